"""The Gated PixelCNN: the model, its presets and its cached sampler."""

from pixel_keras.models.gated_pixel_cnn.model import GatedPixelCNN
from pixel_keras.models.gated_pixel_cnn.presets import GATED_PIXEL_CNN_PRESETS

__all__ = ["GATED_PIXEL_CNN_PRESETS", "GatedPixelCNN"]
