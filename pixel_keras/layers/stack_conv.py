"""The two convolutions of the Gated PixelCNN: vertical and horizontal stack.

A stack of masked `n x n` convolutions (the PixelRNN paper's PixelCNN) never
sees a wedge of pixels above and to the right of the output pixel, the
*blind spot*: each layer's mask drops the taps right of the centre in the
centre row, and the loss compounds layer by layer. The Gated PixelCNN (van
den Oord et al., 2016) splits the network in two stacks that together see
every earlier pixel:

- the **vertical stack** sees whole rows above the output pixel, `n // 2`
  columns to either side per layer: a `ceil(n / 2) x n` convolution (the
  top half of an `n x n` kernel, centre row included) over the rows up to
  the output row. Its first layer reads the image moved down by one row
  (`mask_type="A"`), so its outputs see only rows *strictly* above; every
  later layer reads a map that already does (`mask_type="B"`), so it may
  read that map's own row. No tap is ever masked: the footprint is made by
  the kernel's shape and the padding alone.
- the **horizontal stack** sees the output row up to the output pixel: a
  `1 x ceil(n / 2)` convolution whose last tap is the pixel itself, masked
  there only, for the image's channel order (R -> G -> B) as the PixelRNN
  paper's masks (`masked_conv.causal_mask`): mask `"A"` in the first layer
  (a channel group sees the strictly earlier groups of its pixel), `"B"`
  after (also its own group).

Both are padded convolutions (`padded_conv2d`, stride 1, VALID after
explicit zero padding), so they run at the speed of `Conv2D`. With
`weight_norm=True` their kernels are weight-normalized (`weight_norm.py`),
the horizontal one over the taps its mask keeps.
"""

import keras
from keras import ops

from pixel_keras.layers.masked_conv import causal_mask
from pixel_keras.layers.masked_conv import channel_groups
from pixel_keras.layers.masked_conv import check_channel_groups
from pixel_keras.layers.masked_conv import check_input_channels
from pixel_keras.layers.padded_conv2d import padded_conv2d
from pixel_keras.layers.shifted_conv import down_shift
from pixel_keras.layers.weight_norm import WeightNorm

MASK_TYPES = ("A", "B")


def _check_stack_arguments(class_name, kernel_size, mask_type, kwargs):
    """The stack size `n` (an odd int), after refusing what would break the
    footprint (strides, dilation, groups, another padding)."""
    for name in ("strides", "dilation_rate", "groups"):
        value = kwargs.pop(name, 1)
        if value not in (1, (1, 1), [1, 1]):
            raise ValueError(f"`{class_name}` supports only {name}=1. Received: {name}={value}")
    padding = kwargs.pop("padding", "valid")
    if padding != "valid":
        raise ValueError(
            f"`{class_name}` pads causally by itself. Received: padding={padding!r}; "
            "leave it unset."
        )
    kwargs.pop("data_format", None)
    if isinstance(kernel_size, bool) or not (
        isinstance(kernel_size, int) and kernel_size >= 1 and kernel_size % 2 == 1
    ):
        raise ValueError(
            f"Expected `kernel_size` to be an odd positive int n (the stack's n x n "
            f"footprint). Received: kernel_size={kernel_size!r}"
        )
    if mask_type not in MASK_TYPES:
        raise ValueError(f"Expected `mask_type` 'A' or 'B'. Received: mask_type={mask_type!r}")
    return kernel_size


class _StackConv2D(WeightNorm, keras.layers.Conv2D):
    """Base of the two stack convolutions: a padded stride-1 convolution
    whose `kernel_size` argument is the stack's `n` (the kernel itself is
    `kernel_shape(n)`); subclasses define `kernel_shape` and
    `convolution_op`."""

    def __init__(self, filters, kernel_size, mask_type="B", weight_norm=False, **kwargs):
        size = _check_stack_arguments(type(self).__name__, kernel_size, mask_type, kwargs)
        super().__init__(
            filters=filters,
            kernel_size=self.kernel_shape(size),
            padding="valid",
            data_format="channels_last",
            **kwargs,
        )
        self.stack_size = size
        self.mask_type = mask_type
        self.weight_norm = bool(weight_norm)
        self._check_weight_norm_arguments()

    def call(self, inputs):
        return self._weight_norm_call(super().call, inputs)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.filters)

    def get_config(self):
        config = super().get_config()
        for key in ("padding", "strides", "dilation_rate", "data_format", "groups"):
            config.pop(key, None)
        config.update(
            {
                "kernel_size": self.stack_size,
                "mask_type": self.mask_type,
                "weight_norm": self.weight_norm,
            }
        )
        return config


@keras.saving.register_keras_serializable(package="pixel_keras")
class VerticalStackConv2D(_StackConv2D):
    """The Gated PixelCNN's vertical stack convolution: rows above only.

    A `ceil(n / 2) x n` convolution whose bottom row is aligned with the
    output row and which is centred horizontally: output `(r, c)` reads
    input rows `r - n // 2 .. r`, columns `c - n // 2 .. c + n // 2`. With
    `mask_type="A"` the input is first moved down one row (zeros on top), so
    output `(r, c)` reads rows `r - ceil(n / 2) .. r - 1`: strictly above.
    The first layer of the stack, which reads the image, is `"A"`; every
    later layer reads a map whose row `r` already sees only rows above `r`,
    and is `"B"`. No channel mask: rows above may be read in any channel.

    Args:
        filters: int, the number of output channels.
        kernel_size: odd int n; the kernel is `(ceil(n / 2), n)`.
        mask_type: `"A"` (the first layer: rows strictly above) or `"B"`
            (later layers: also the input's own row).
        weight_norm: bool, whether the kernel is weight-normalized.
        **kwargs: other `keras.layers.Conv2D` arguments (activation,
            initializers, ...). Always stride 1, no dilation.

    Input shape:
        `(batch, height, width, channels)`.

    Output shape:
        `(batch, height, width, filters)`.

    Example:

    >>> layer = VerticalStackConv2D(8, 3, mask_type="A")
    >>> layer(keras.ops.ones((1, 5, 7, 3))).shape
    (1, 5, 7, 8)
    """

    @staticmethod
    def kernel_shape(size):
        return (size // 2 + 1, size)

    def convolution_op(self, inputs, kernel):
        # Called by `Conv2D.call`, which adds the bias and the activation.
        if self.mask_type == "A":
            inputs = down_shift(inputs)
        height, width = self.kernel_size
        return padded_conv2d(inputs, kernel, ((height - 1, 0), (width // 2, width // 2)))


@keras.saving.register_keras_serializable(package="pixel_keras")
class HorizontalStackConv2D(_StackConv2D):
    """The Gated PixelCNN's horizontal stack convolution: the row up to the
    output pixel, with R -> G -> B channel groups.

    A `1 x ceil(n / 2)` convolution whose last tap is the output pixel:
    output `(r, c)` reads columns `c - n // 2 .. c` of row `r`. The taps left
    of the pixel read every channel; the pixel's own tap is masked by
    channel group as `MaskedConv2D`'s centre tap (`masked_conv.causal_mask`,
    the same groups): mask `"A"` lets output group `g` read input groups
    `< g` (the first layer), mask `"B"` groups `<= g` (every later layer).
    The mask is built once, in `build`, and multiplies the kernel in every
    call, so masked weights never act and get zero gradients.

    Args:
        filters: int, the number of output channels.
        kernel_size: odd int n; the kernel is `(1, ceil(n / 2))`.
        mask_type: `"A"` or `"B"`, the pixel's own tap.
        num_channel_groups: int, the image's colour channels C whose order
            is kept (1: no channel mask).
        output_blocks: int, the outputs are this many equal blocks (the two
            halves of a gate's pre-activations), each grouped like a map.
        weight_norm: bool, whether the kernel is weight-normalized, over
            the taps the mask keeps.
        **kwargs: other `keras.layers.Conv2D` arguments. Always stride 1.

    Input shape:
        `(batch, height, width, channels)`, at least `num_channel_groups`
        channels.

    Output shape:
        `(batch, height, width, filters)`.

    Example:

    >>> layer = HorizontalStackConv2D(6, 3, mask_type="A", num_channel_groups=3)
    >>> layer(keras.ops.ones((1, 5, 7, 3))).shape
    (1, 5, 7, 6)
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
        super().__init__(
            filters, kernel_size, mask_type=mask_type, weight_norm=weight_norm, **kwargs
        )
        check_channel_groups(filters, num_channel_groups, output_blocks)
        self.num_channel_groups = num_channel_groups
        self.output_blocks = output_blocks

    @staticmethod
    def kernel_shape(size):
        return (1, size // 2 + 1)

    def build(self, input_shape):
        input_channels = check_input_channels(self, input_shape)
        # The left half of a 1 x n masked kernel: its taps left of the
        # centre, and the centre's channel mask. Before the kernel: a
        # weight-normalized layer's `g` starts at the norm of the masked one.
        mask = causal_mask(
            (1, self.stack_size),
            channel_groups(input_channels, self.num_channel_groups),
            channel_groups(self.filters, self.num_channel_groups, self.output_blocks),
            self.mask_type,
        )
        self.mask = ops.convert_to_tensor(
            mask[:, : self.kernel_size[1]], dtype=self.compute_dtype
        )
        super().build(input_shape)

    def convolution_op(self, inputs, kernel):
        masked = kernel * ops.cast(self.mask, kernel.dtype)
        return padded_conv2d(inputs, masked, ((0, 0), (self.kernel_size[1] - 1, 0)))

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_channel_groups": self.num_channel_groups,
                "output_blocks": self.output_blocks,
            }
        )
        return config
