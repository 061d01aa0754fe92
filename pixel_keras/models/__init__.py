"""Autoregressive image models."""

from pixel_keras.models.pixel_cnn_pp import PixelCNNPlusPlus
from pixel_keras.models.presets import PIXEL_CNN_PP_PRESETS

__all__ = ["PIXEL_CNN_PP_PRESETS", "PixelCNNPlusPlus"]
