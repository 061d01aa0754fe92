"""Autoregressive image models, one folder per family (the model, its
presets and its cached sampler side by side)."""

from pixel_keras.models.autoregressive import AutoregressiveImageModel
from pixel_keras.models.gated_pixel_cnn import GATED_PIXEL_CNN_PRESETS
from pixel_keras.models.gated_pixel_cnn import GatedPixelCNN
from pixel_keras.models.pixel_cnn import PIXEL_CNN_PRESETS
from pixel_keras.models.pixel_cnn import PixelCNN
from pixel_keras.models.pixel_cnn_pp import PIXEL_CNN_PP_PRESETS
from pixel_keras.models.pixel_cnn_pp import PixelCNNPlusPlus
from pixel_keras.models.pixel_rnn import PIXEL_RNN_PRESETS
from pixel_keras.models.pixel_rnn import PixelRNN
from pixel_keras.models.pixel_snail import PIXEL_SNAIL_PRESETS
from pixel_keras.models.pixel_snail import PixelSNAIL

__all__ = [
    "AutoregressiveImageModel",
    "GATED_PIXEL_CNN_PRESETS",
    "GatedPixelCNN",
    "PIXEL_CNN_PP_PRESETS",
    "PIXEL_CNN_PRESETS",
    "PIXEL_RNN_PRESETS",
    "PIXEL_SNAIL_PRESETS",
    "PixelCNN",
    "PixelCNNPlusPlus",
    "PixelRNN",
    "PixelSNAIL",
]
