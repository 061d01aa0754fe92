"""Autoregressive image models."""

from pixel_keras.models.pixel_cnn import PixelCNN
from pixel_keras.models.pixel_cnn_pp import PixelCNNPlusPlus
from pixel_keras.models.pixel_rnn import PixelRNN
from pixel_keras.models.presets import PIXEL_CNN_PP_PRESETS
from pixel_keras.models.presets import PIXEL_CNN_PRESETS
from pixel_keras.models.presets import PIXEL_RNN_PRESETS

__all__ = [
    "PIXEL_CNN_PP_PRESETS",
    "PIXEL_CNN_PRESETS",
    "PIXEL_RNN_PRESETS",
    "PixelCNN",
    "PixelCNNPlusPlus",
    "PixelRNN",
]
