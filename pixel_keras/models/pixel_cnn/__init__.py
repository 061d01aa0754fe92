"""The PixelRNN paper's PixelCNN: the model, its presets and its cached
sampler."""

from pixel_keras.models.pixel_cnn.model import PixelCNN
from pixel_keras.models.pixel_cnn.presets import PIXEL_CNN_PRESETS

__all__ = ["PIXEL_CNN_PRESETS", "PixelCNN"]
