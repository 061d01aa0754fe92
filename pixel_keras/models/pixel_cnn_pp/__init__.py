"""PixelCNN++ (Salimans et al., 2017): the model, its presets and its cached
sampler."""

from pixel_keras.models.pixel_cnn_pp.model import PixelCNNPlusPlus
from pixel_keras.models.pixel_cnn_pp.presets import PIXEL_CNN_PP_PRESETS

__all__ = ["PIXEL_CNN_PP_PRESETS", "PixelCNNPlusPlus"]
