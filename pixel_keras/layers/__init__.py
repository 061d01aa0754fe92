"""Keras 3 layers for autoregressive image models."""

from pixel_keras.layers.causal_attention import CausalAttention
from pixel_keras.layers.causal_attention import background_planes
from pixel_keras.layers.diagonal_lstm import DiagonalBiLSTM
from pixel_keras.layers.diagonal_lstm import DiagonalLSTM
from pixel_keras.layers.diagonal_lstm import skew
from pixel_keras.layers.diagonal_lstm import unskew
from pixel_keras.layers.gated_pixel_cnn_block import GatedPixelCNNBlock
from pixel_keras.layers.gated_pixel_cnn_block import gated_activation
from pixel_keras.layers.gated_resnet import GatedResNet
from pixel_keras.layers.gated_resnet import concat_elu
from pixel_keras.layers.masked_conv import MaskedConv2D
from pixel_keras.layers.pixel_encoding import PixelEncoding
from pixel_keras.layers.row_lstm import RowLSTM
from pixel_keras.layers.shifted_conv import DownRightShiftedConv2D
from pixel_keras.layers.shifted_conv import DownRightShiftedConv2DTranspose
from pixel_keras.layers.shifted_conv import DownShiftedConv2D
from pixel_keras.layers.shifted_conv import DownShiftedConv2DTranspose
from pixel_keras.layers.shifted_conv import down_shift
from pixel_keras.layers.shifted_conv import right_shift
from pixel_keras.layers.stack_conv import HorizontalStackConv2D
from pixel_keras.layers.stack_conv import VerticalStackConv2D
from pixel_keras.layers.weight_norm import WeightNorm
from pixel_keras.layers.weight_norm import WeightNormConv2D
from pixel_keras.layers.weight_norm import WeightNormDense

__all__ = [
    "CausalAttention",
    "DiagonalBiLSTM",
    "DiagonalLSTM",
    "DownRightShiftedConv2D",
    "DownRightShiftedConv2DTranspose",
    "DownShiftedConv2D",
    "DownShiftedConv2DTranspose",
    "GatedPixelCNNBlock",
    "GatedResNet",
    "HorizontalStackConv2D",
    "MaskedConv2D",
    "PixelEncoding",
    "RowLSTM",
    "VerticalStackConv2D",
    "WeightNorm",
    "WeightNormConv2D",
    "WeightNormDense",
    "background_planes",
    "concat_elu",
    "down_shift",
    "gated_activation",
    "right_shift",
    "skew",
    "unskew",
]
