"""Causal convolutions of PixelCNN++: down-shifted and down-right-shifted.

A *down-shifted* convolution sees only the rows at and above the output row
(a `kh x kw` kernel whose bottom row is aligned with the output row and that is
centred horizontally). A *down-right-shifted* convolution sees only the pixels
at and above the output row and at and left of the output column (the kernel's
bottom-right tap is the output pixel). Each is an ordinary VALID convolution
after asymmetric zero padding (`padded_conv2d`, whose backward pass is made of
forward convolutions on CPU), so it runs at the speed of `Conv2D`. The
transposed forms upsample by the stride and crop so that the same causal
footprint holds at the higher resolution.

`down_shift` and `right_shift` move a map by one row or column, which makes the
first layer's view *strictly* above (or left of) the output pixel.

With `weight_norm=True` the kernel is weight-normalized (see `weight_norm.py`):
`kernel` is then `g * v / ||v||`, with the same shape and the same causal
footprint, since the padding and the cropping do not change.
"""

import keras
from keras import ops

from pixel_keras.layers.padded_conv2d import padded_conv2d
from pixel_keras.layers.weight_norm import WeightNorm


def _drop_last(x, axis):
    """`x` without its last row (axis 1) or column (axis 2).

    A `slice` rather than `x[:, :-1]`, because the gradient of a strided slice
    (`StridedSliceGrad`) is several times slower on CPU than that of a slice
    (a pad).
    """
    size = ops.shape(x)[axis]
    if size is None:  # A symbolic map of unknown size.
        return x[:, :-1] if axis == 1 else x[:, :, :-1]
    shape = [-1, -1, -1, -1]
    shape[axis] = size - 1
    return ops.slice(x, [0, 0, 0, 0], shape)


def down_shift(x):
    """Shifts a `[B, H, W, C]` map down by one row, filling the top with zeros."""
    return ops.pad(_drop_last(x, 1), [[0, 0], [1, 0], [0, 0], [0, 0]])


def right_shift(x):
    """Shifts a `[B, H, W, C]` map right by one column, filling with zeros."""
    return ops.pad(_drop_last(x, 2), [[0, 0], [0, 0], [1, 0], [0, 0]])


def _check_kernel(shift, kernel_size):
    kernel_height, kernel_width = kernel_size
    if shift == "down" and kernel_width % 2 != 1:
        raise ValueError(
            "A down-shifted convolution is centred horizontally, so its kernel "
            f"width must be odd. Received: kernel_size={kernel_size}"
        )


def _causal_padding(shift, kernel_size):
    kernel_height, kernel_width = kernel_size
    if shift == "down":
        side = (kernel_width - 1) // 2
        return [[0, 0], [kernel_height - 1, 0], [side, side], [0, 0]]
    return [[0, 0], [kernel_height - 1, 0], [kernel_width - 1, 0], [0, 0]]


def _pop_valid_padding(kwargs, class_name):
    # The padding is what makes these layers causal; only "valid" (what the
    # base convolution runs after the causal padding) is accepted, so that a
    # config written by `get_config` loads back.
    padding = kwargs.pop("padding", "valid")
    if padding != "valid":
        raise ValueError(
            f"`{class_name}` pads causally by itself. "
            f"Received: padding={padding!r}; leave it unset."
        )


class _ShiftedConv2D(WeightNorm, keras.layers.Conv2D):
    """Base of the causal convolutions; subclasses set `shift`."""

    shift = None

    def __init__(self, filters, kernel_size, strides=1, weight_norm=False, **kwargs):
        _pop_valid_padding(kwargs, type(self).__name__)
        super().__init__(
            filters=filters,
            kernel_size=kernel_size,
            strides=strides,
            padding="valid",
            data_format="channels_last",
            **kwargs,
        )
        _check_kernel(self.shift, self.kernel_size)
        self.weight_norm = bool(weight_norm)
        self._check_weight_norm_arguments()

    def convolution_op(self, inputs, kernel):
        # Called by `Conv2D.call`, which adds the bias and the activation.
        padding = _causal_padding(self.shift, self.kernel_size)
        if tuple(self.strides) == (1, 1):
            return padded_conv2d(inputs, kernel, padding[1:3])
        return super().convolution_op(ops.pad(inputs, padding), kernel)

    def _causal_convolution(self, inputs):
        return super().call(inputs)

    def call(self, inputs):
        return self._weight_norm_call(self._causal_convolution, inputs)

    def compute_output_shape(self, input_shape):
        batch, height, width, _ = input_shape
        stride_h, stride_w = self.strides

        def reduce(size, stride):
            return None if size is None else -(-size // stride)

        return (batch, reduce(height, stride_h), reduce(width, stride_w), self.filters)

    def get_config(self):
        config = super().get_config()
        for key in ("data_format", "dilation_rate", "groups"):
            config.pop(key, None)
        config["weight_norm"] = self.weight_norm
        return config


class _ShiftedConv2DTranspose(WeightNorm, keras.layers.Conv2DTranspose):
    """Base of the causal transposed convolutions; subclasses set `shift`."""

    shift = None
    # The kernel is (height, width, filters, input channels).
    kernel_output_axis = -2

    def __init__(self, filters, kernel_size, strides=2, weight_norm=False, **kwargs):
        _pop_valid_padding(kwargs, type(self).__name__)
        super().__init__(
            filters=filters,
            kernel_size=kernel_size,
            strides=strides,
            padding="valid",
            data_format="channels_last",
            **kwargs,
        )
        _check_kernel(self.shift, self.kernel_size)
        self.weight_norm = bool(weight_norm)
        self._check_weight_norm_arguments()
        stride_h, stride_w = self.strides
        kernel_height, kernel_width = self.kernel_size
        # The kept taps must cover the whole upsampled map: kh >= s rows, and
        # the columns right of the centre (down) or all columns (down_right).
        reach = kernel_width - self._left_crop()
        if kernel_height < stride_h or reach < stride_w:
            raise ValueError(
                f"`{type(self).__name__}` with strides={self.strides} needs a "
                "kernel that covers each upsampled block: height >= "
                f"{stride_h} and {'(width + 1) / 2' if self.shift == 'down' else 'width'}"
                f" >= {stride_w}. Received: kernel_size={self.kernel_size}"
            )

    def _left_crop(self):
        return (self.kernel_size[1] - 1) // 2 if self.shift == "down" else 0

    def call(self, inputs):
        return self._weight_norm_call(self._causal_convolution, inputs)

    def _causal_convolution(self, inputs):
        outputs = super().call(inputs)
        # A VALID transposed convolution writes input pixel (i, j) into output
        # rows s*i .. s*i + kh - 1; keeping the first s*H rows (and the
        # matching columns) drops the taps that would reach below or (for
        # down_right) right of the upsampled position.
        height, width = ops.shape(inputs)[1:3]
        left = self._left_crop()
        # A slice, not `outputs[...]`: see `_drop_last`.
        return ops.slice(
            outputs,
            [0, 0, left, 0],
            [-1, height * self.strides[0], width * self.strides[1], -1],
        )

    def compute_output_shape(self, input_shape):
        batch, height, width, _ = input_shape
        stride_h, stride_w = self.strides

        def grow(size, stride):
            return None if size is None else size * stride

        return (batch, grow(height, stride_h), grow(width, stride_w), self.filters)

    def get_config(self):
        config = super().get_config()
        for key in ("data_format", "dilation_rate", "output_padding"):
            config.pop(key, None)
        config["weight_norm"] = self.weight_norm
        return config


@keras.saving.register_keras_serializable(package="pixel_keras")
class DownShiftedConv2D(_ShiftedConv2D):
    """Convolution that sees the rows at and above the output row.

    The kernel's bottom row is aligned with the output row and the kernel is
    centred horizontally, so the output at `(i, j)` reads input rows
    `i - kh + 1 .. i` and columns `j - (kw - 1) / 2 .. j + (kw - 1) / 2`.
    Apply `down_shift` to the result (as the first layer of PixelCNN++ does)
    to exclude the output row itself.

    Args:
        filters: int, the number of output channels.
        kernel_size: int or pair of ints `(height, width)`; the width must be
            odd. Defaults to `(2, 3)`, the kernel of PixelCNN++.
        strides: int or pair of ints; with stride `s`, output pixel `(i, j)`
            sits at input pixel `(s*i, s*j)` and keeps the causal footprint.
        weight_norm: bool, whether the kernel is weight-normalized
            (`g * v / ||v||`, see `weight_norm.py`).
        **kwargs: other `keras.layers.Conv2D` arguments (activation,
            initializers, regularizers, ...). `padding` is fixed.

    Input shape:
        `(batch, height, width, channels)`.

    Output shape:
        `(batch, ceil(height / s), ceil(width / s), filters)`.

    Example:

    >>> layer = DownShiftedConv2D(8)
    >>> layer(keras.ops.ones((1, 4, 4, 3))).shape
    (1, 4, 4, 8)
    """

    shift = "down"

    def __init__(self, filters, kernel_size=(2, 3), strides=1, weight_norm=False, **kwargs):
        super().__init__(
            filters, kernel_size, strides=strides, weight_norm=weight_norm, **kwargs
        )


@keras.saving.register_keras_serializable(package="pixel_keras")
class DownRightShiftedConv2D(_ShiftedConv2D):
    """Convolution that sees the pixels above and to the left, and itself.

    The kernel's bottom-right tap is the output pixel, so the output at
    `(i, j)` reads input rows `i - kh + 1 .. i` and columns `j - kw + 1 .. j`.

    Args:
        filters: int, the number of output channels.
        kernel_size: int or pair of ints `(height, width)`. Defaults to
            `(2, 2)`, the kernel of PixelCNN++.
        strides: int or pair of ints, as in `DownShiftedConv2D`.
        weight_norm: bool, whether the kernel is weight-normalized
            (`g * v / ||v||`, see `weight_norm.py`).
        **kwargs: other `keras.layers.Conv2D` arguments. `padding` is fixed.

    Input shape:
        `(batch, height, width, channels)`.

    Output shape:
        `(batch, ceil(height / s), ceil(width / s), filters)`.

    Example:

    >>> layer = DownRightShiftedConv2D(8, strides=2)
    >>> layer(keras.ops.ones((1, 4, 4, 3))).shape
    (1, 2, 2, 8)
    """

    shift = "down_right"

    def __init__(self, filters, kernel_size=(2, 2), strides=1, weight_norm=False, **kwargs):
        super().__init__(
            filters, kernel_size, strides=strides, weight_norm=weight_norm, **kwargs
        )


@keras.saving.register_keras_serializable(package="pixel_keras")
class DownShiftedConv2DTranspose(_ShiftedConv2DTranspose):
    """Upsampling form of `DownShiftedConv2D`.

    Upsamples by `strides` with a VALID transposed convolution and crops it to
    `(height * s, width * s)`: input pixel `(i, j)` reaches only output rows
    `s*i .. s*i + s - 1`, so no output reads a low-resolution row below it.

    Args:
        filters: int, the number of output channels.
        kernel_size: int or pair of ints `(height, width)`, odd width.
            Defaults to `(2, 3)`.
        strides: int or pair of ints, the upsampling factor. Defaults to 2.
        weight_norm: bool, whether the kernel is weight-normalized
            (`g * v / ||v||`, see `weight_norm.py`).
        **kwargs: other `keras.layers.Conv2DTranspose` arguments. `padding`
            is fixed.

    Input shape:
        `(batch, height, width, channels)`.

    Output shape:
        `(batch, height * s, width * s, filters)`.

    Example:

    >>> layer = DownShiftedConv2DTranspose(8)
    >>> layer(keras.ops.ones((1, 4, 4, 3))).shape
    (1, 8, 8, 8)
    """

    shift = "down"

    def __init__(self, filters, kernel_size=(2, 3), strides=2, weight_norm=False, **kwargs):
        super().__init__(
            filters, kernel_size, strides=strides, weight_norm=weight_norm, **kwargs
        )


@keras.saving.register_keras_serializable(package="pixel_keras")
class DownRightShiftedConv2DTranspose(_ShiftedConv2DTranspose):
    """Upsampling form of `DownRightShiftedConv2D`.

    Input pixel `(i, j)` reaches only output pixels in rows `s*i ..` and
    columns `s*j ..` of its own `s x s` block and the blocks below and right.

    Args:
        filters: int, the number of output channels.
        kernel_size: int or pair of ints `(height, width)`. Defaults to
            `(2, 2)`.
        strides: int or pair of ints, the upsampling factor. Defaults to 2.
        weight_norm: bool, whether the kernel is weight-normalized
            (`g * v / ||v||`, see `weight_norm.py`).
        **kwargs: other `keras.layers.Conv2DTranspose` arguments. `padding`
            is fixed.

    Input shape:
        `(batch, height, width, channels)`.

    Output shape:
        `(batch, height * s, width * s, filters)`.

    Example:

    >>> layer = DownRightShiftedConv2DTranspose(8)
    >>> layer(keras.ops.ones((1, 4, 4, 3))).shape
    (1, 8, 8, 8)
    """

    shift = "down_right"

    def __init__(self, filters, kernel_size=(2, 2), strides=2, weight_norm=False, **kwargs):
        super().__init__(
            filters, kernel_size, strides=strides, weight_norm=weight_norm, **kwargs
        )
