"""Keras 3 layers for autoregressive image models."""

from pixel_keras.layers.gated_resnet import GatedResNet
from pixel_keras.layers.gated_resnet import concat_elu
from pixel_keras.layers.shifted_conv import DownRightShiftedConv2D
from pixel_keras.layers.shifted_conv import DownRightShiftedConv2DTranspose
from pixel_keras.layers.shifted_conv import DownShiftedConv2D
from pixel_keras.layers.shifted_conv import DownShiftedConv2DTranspose
from pixel_keras.layers.shifted_conv import down_shift
from pixel_keras.layers.shifted_conv import right_shift

__all__ = [
    "DownRightShiftedConv2D",
    "DownRightShiftedConv2DTranspose",
    "DownShiftedConv2D",
    "DownShiftedConv2DTranspose",
    "GatedResNet",
    "concat_elu",
    "down_shift",
    "right_shift",
]
