"""The PixelRNN paper's Row LSTM and Diagonal BiLSTM: the model, its presets
and a cached sampler for each kind."""

from pixel_keras.models.pixel_rnn.model import KINDS
from pixel_keras.models.pixel_rnn.model import PixelRNN
from pixel_keras.models.pixel_rnn.presets import PIXEL_RNN_PRESETS

__all__ = ["KINDS", "PIXEL_RNN_PRESETS", "PixelRNN"]
