"""PixelSNAIL (Chen et al., 2018): the model, its presets and its cached
sampler."""

from pixel_keras.models.pixel_snail.model import PixelSNAIL
from pixel_keras.models.pixel_snail.presets import PIXEL_SNAIL_PRESETS

__all__ = ["PIXEL_SNAIL_PRESETS", "PixelSNAIL"]
