"""Masked convolutions of the PixelRNN paper, with R -> G -> B channel groups.

A masked convolution is a "same"-padded convolution whose kernel is multiplied
by a fixed 0/1 mask in every forward pass, so that output pixel `(i, j)` reads
only the input pixels before it in raster order (the rows above, and the
pixels to the left in its own row) and, at `(i, j)` itself, only the channel
groups its own group may see:

- mask `"A"` (the first layer): group `g` of the output sees groups `< g` of
  the input pixel, so R sees nothing of its own pixel, G sees R, B sees R, G;
- mask `"B"` (every later layer): group `g` also sees group `g`.

Feature maps carry the image's C channel groups through the network: channel
`j` of an `n`-channel map belongs to group `j * C // n` (contiguous blocks, as
equal as `n` allows). A layer whose outputs are several stacked blocks (the
four LSTM gates) groups each block the same way (`output_blocks`).
"""

import keras
import numpy as np
from keras import ops

from pixel_keras.layers.padded_conv2d import padded_conv2d
from pixel_keras.layers.weight_norm import WeightNorm


def channel_groups(num_channels, num_groups, num_blocks=1):
    """The channel group of every channel of a feature map.

    Args:
        num_channels: int, channels of the map.
        num_groups: int, the number of channel groups (the image's channels).
        num_blocks: int, the map is this many equal blocks (e.g. LSTM gates),
            each split into the groups in the same way.

    Returns:
        int NumPy array `(num_channels,)` with values in `[0, num_groups)`.
    """
    block = num_channels // num_blocks
    return np.tile(np.arange(block) * num_groups // block, num_blocks)


def causal_mask(kernel_size, input_groups, output_groups, mask_type):
    """The 0/1 mask of a raster-order masked convolution kernel.

    Args:
        kernel_size: `(height, width)` of the kernel; its centre tap is the
            output pixel.
        input_groups: int array, the channel group of every input channel.
        output_groups: int array, the channel group of every output channel.
        mask_type: `"A"` (a group sees strictly earlier groups of the centre
            pixel) or `"B"` (also itself).

    Returns:
        float32 NumPy array `(height, width, in_channels, out_channels)`.
    """
    height, width = kernel_size
    centre_row, centre_col = height // 2, width // 2
    mask = np.zeros((height, width, len(input_groups), len(output_groups)), np.float32)
    # Rows above the centre, and the taps left of the centre in its row.
    mask[:centre_row] = 1.0
    mask[centre_row, :centre_col] = 1.0
    if mask_type == "A":
        allowed = input_groups[:, None] < output_groups[None, :]
    else:
        allowed = input_groups[:, None] <= output_groups[None, :]
    mask[centre_row, centre_col] = allowed.astype(np.float32)
    return mask


def check_channel_groups(filters, num_channel_groups, output_blocks):
    """Refuses channel groups that a masked layer's outputs cannot keep.

    Raises:
        ValueError: unless `num_channel_groups` is a positive int and
            `output_blocks` a positive int that divides `filters` into
            blocks of at least `num_channel_groups` channels.
    """
    if isinstance(num_channel_groups, bool) or not (
        isinstance(num_channel_groups, int) and num_channel_groups >= 1
    ):
        raise ValueError(
            "Expected `num_channel_groups` to be a positive int. "
            f"Received: num_channel_groups={num_channel_groups!r}"
        )
    if (
        isinstance(output_blocks, bool)
        or not isinstance(output_blocks, int)
        or output_blocks < 1
        or filters % output_blocks
        or filters // output_blocks < num_channel_groups
    ):
        raise ValueError(
            "Expected `output_blocks` to be a positive int that divides "
            "`filters` into blocks of at least `num_channel_groups` "
            f"channels. Received: filters={filters}, "
            f"output_blocks={output_blocks!r}, "
            f"num_channel_groups={num_channel_groups}"
        )


def check_input_channels(layer, input_shape):
    """The input's channels, after refusing fewer than `layer`'s
    `num_channel_groups` (each group needs a channel)."""
    input_channels = input_shape[-1]
    if input_channels is None or input_channels < layer.num_channel_groups:
        raise ValueError(
            f"`{layer.name}` keeps {layer.num_channel_groups} channel groups, so "
            f"its input needs at least that many channels. Received: "
            f"input_shape={tuple(input_shape)}"
        )
    return input_channels


@keras.saving.register_keras_serializable(package="pixel_keras")
class MaskedConv2D(WeightNorm, keras.layers.Conv2D):
    """Convolution masked to raster order and R -> G -> B channel order.

    The mask multiplies the kernel inside `call`, so the excluded weights
    never act, even before the first optimizer step, and their gradients are
    exactly zero. The mask is not a weight: it is rebuilt from the config.
    With `weight_norm=True` the kernel is `g * v / ||v||` with the norm over
    the taps the mask keeps (`weight_norm.py`).

    Args:
        filters: int, the number of output channels.
        kernel_size: int or pair of odd ints `(height, width)`; the centre
            tap is the output pixel. `(1, k)` convolves along the row only.
        mask_type: `"A"` for the first layer (a pixel's channel group sees
            only earlier groups of that pixel), `"B"` for every later layer.
        num_channel_groups: int, the number of colour channels C whose
            order is kept (1 for grey-scale: then only the spatial mask acts).
        output_blocks: int, the outputs are this many equal blocks (such as
            the four gates of an LSTM), each grouped like a feature map.
        weight_norm: bool, whether the kernel is weight-normalized.
        **kwargs: other `keras.layers.Conv2D` arguments (activation,
            initializers, ...). `padding` is always "same", stride 1.

    Input shape:
        `(batch, height, width, channels)`, at least `num_channel_groups`
        channels.

    Output shape:
        `(batch, height, width, filters)`.

    Example:

    >>> first = MaskedConv2D(12, 7, mask_type="A", num_channel_groups=3)
    >>> first(keras.ops.ones((1, 8, 8, 3))).shape
    (1, 8, 8, 12)
    """

    def __init__(
        self,
        filters,
        kernel_size,
        mask_type="B",
        num_channel_groups=1,
        output_blocks=1,
        weight_norm=False,
        **kwargs,
    ):
        for name in ("strides", "dilation_rate", "groups"):
            value = kwargs.pop(name, 1)
            if value not in (1, (1, 1), [1, 1]):
                raise ValueError(
                    f"`MaskedConv2D` supports only {name}=1. Received: {name}={value}"
                )
        padding = kwargs.pop("padding", "same")
        if padding != "same":
            raise ValueError(
                "`MaskedConv2D` pads with padding='same' so that the centre tap "
                f"is the output pixel. Received: padding={padding!r}"
            )
        super().__init__(
            filters=filters,
            kernel_size=kernel_size,
            padding="same",
            data_format="channels_last",
            **kwargs,
        )
        if mask_type not in ("A", "B"):
            raise ValueError(
                f"Expected `mask_type` 'A' or 'B'. Received: mask_type={mask_type!r}"
            )
        if any(size % 2 != 1 for size in self.kernel_size):
            raise ValueError(
                "Expected an odd `kernel_size`, so that a centre tap is the "
                f"output pixel. Received: kernel_size={self.kernel_size}"
            )
        check_channel_groups(filters, num_channel_groups, output_blocks)
        self.mask_type = mask_type
        self.num_channel_groups = num_channel_groups
        self.output_blocks = output_blocks
        self.weight_norm = bool(weight_norm)
        self._check_weight_norm_arguments()

    def build(self, input_shape):
        input_channels = check_input_channels(self, input_shape)
        # Before the kernel: a weight-normalized layer's `g` starts at the
        # norm of the masked kernel.
        self.mask = ops.convert_to_tensor(
            causal_mask(
                self.kernel_size,
                channel_groups(input_channels, self.num_channel_groups),
                channel_groups(self.filters, self.num_channel_groups, self.output_blocks),
                self.mask_type,
            ),
            dtype=self.compute_dtype,
        )
        super().build(input_shape)

    def call(self, inputs):
        return self._weight_norm_call(super().call, inputs)

    def convolution_op(self, inputs, kernel):
        # "same" padding spelled out (as TensorFlow splits it), so that the
        # convolution runs through `padded_conv2d` and its faster backward
        # pass on CPU.
        padding = tuple(
            ((size - 1) // 2, size - 1 - (size - 1) // 2) for size in self.kernel_size
        )
        return padded_conv2d(
            inputs, kernel * ops.cast(self.mask, kernel.dtype), padding
        )

    def get_config(self):
        config = super().get_config()
        for key in ("padding", "strides", "dilation_rate", "data_format", "groups"):
            config.pop(key, None)
        config.update(
            {
                "mask_type": self.mask_type,
                "num_channel_groups": self.num_channel_groups,
                "output_blocks": self.output_blocks,
                "weight_norm": self.weight_norm,
            }
        )
        return config
