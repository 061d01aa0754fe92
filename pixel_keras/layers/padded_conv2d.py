"""Stride-1 convolution with zero padding, whose backward pass is the fastest
of five exact ones on the machine at hand.

The causal convolutions of PixelCNN++ are small kernels (2x3, 2x2) over
asymmetrically padded maps (the masked convolutions of the PixelRNN paper
use it too, with "same" padding). The forward pass is one convolution. Its
two gradients, with respect to the input and to the kernel, are themselves
convolutions, and which way of computing them is fastest depends on the CPU
(oneDNN picks different kernels for AVX2, AVX-512 and AMX) or GPU:

* `"tensorflow"`: TensorFlow's own backward kernels
  (`Conv2DBackpropInput`, `Conv2DBackpropFilter`) with the explicit padding;
* `"forward"`: forward convolutions only. The input gradient is the output
  gradient convolved with the kernel flipped in space and with its channel
  axes swapped, padded so that the result has the input's size; the kernel
  gradient is a convolution in which the input channels act as the batch,
  the batch as the channels being summed, and the output gradient as a
  (large) kernel;
* `"same"`: TensorFlow's backward kernels for the kernel embedded, with
  zeros, in an odd square with "same" padding (what a masked 3x3
  convolution such as TFP's computes); only for convolutions whose output
  has the input's size;
* `"matmul"`: the input gradient as in `"forward"`; the kernel gradient one
  matrix product per kernel tap, over the padded maps flattened into one
  axis (batch, row, column), where each tap reads the flat input at its
  offset. It spares the three transposes of `"forward"`'s kernel gradient;
* `"forward_same"`: the input gradient as in `"forward"`, the kernel
  gradient as in `"same"` (only where `"same"` applies). The forward
  convolution was the fastest input gradient for every shape measured on
  an AVX-512 EPYC and on an AMX Xeon, where `"same"`'s kernel gradient was
  often the fastest one.

All five are exact (the same sums in other orders), so only float rounding
differs. By default (`PIXEL_KERAS_CONV` unset or `auto`), the first time a
gradient is traced for a new (device kind, input shape, kernel shape,
padding, dtype), each backward pass is timed on random tensors of those
shapes and the fastest is kept for the process, as cuDNN and XLA autotune.
Convolutions too small to time reliably, and shapes unknown at trace time,
take the default of their device (`"forward"` on CPU, `"tensorflow"`
elsewhere). `PIXEL_KERAS_CONV=tensorflow|forward|same|matmul|forward_same`
pins one everywhere (`"same"` and `"forward_same"` fall back where they do
not apply), and
`padded_conv2d(..., backward=...)` pins one for a call.
"""

import functools
import os
import time

import tensorflow as tf

BACKWARD_PASSES = ("tensorflow", "forward", "same", "matmul", "forward_same")
# The backward passes for convolutions whose output has the input's size only.
SIZE_KEEPING_PASSES = ("same", "forward_same")
# The environment variable that pins a backward pass: one of
# `BACKWARD_PASSES`, or "auto" (measure; the default).
ENVIRONMENT_VARIABLE = "PIXEL_KERAS_CONV"
# Below this many multiply-adds per forward pass a convolution takes its
# device's default backward pass: timing it would measure dispatch noise.
MIN_MEASURED_MACS = 2_000_000
# The batch a measurement uses when the traced batch is unknown.
MEASURED_BATCH = 16

# (device kind, input shape, kernel shape, padding, dtype) -> backward pass.
_CHOICES = {}
# The same keys -> {backward pass: seconds} of the measurement.
_TIMINGS = {}


@functools.cache
def cpu_only():
    """Whether TensorFlow sees only CPU devices."""
    return all(d.device_type == "CPU" for d in tf.config.list_physical_devices())


def _device_kind():
    return "CPU" if cpu_only() else "GPU"


def default_backward():
    """The backward pass of a convolution that is not measured."""
    return "forward" if cpu_only() else "tensorflow"


def _pinned_backward():
    value = os.environ.get(ENVIRONMENT_VARIABLE, "auto").strip().lower() or "auto"
    if value != "auto" and value not in BACKWARD_PASSES:
        raise ValueError(
            f"Expected the environment variable {ENVIRONMENT_VARIABLE} to be "
            f"'auto' or one of {BACKWARD_PASSES}. Received: {value!r}"
        )
    return None if value == "auto" else value


def _keeps_size(kernel_shape, padding):
    """Whether the output has the input's size (then `SIZE_KEEPING_PASSES`
    apply)."""
    (top, bottom), (left, right) = padding
    return top + bottom == kernel_shape[0] - 1 and left + right == kernel_shape[1] - 1


def _conv(inputs, kernel, padding):
    (top, bottom), (left, right) = padding
    return tf.nn.conv2d(
        inputs,
        kernel,
        strides=1,
        padding=[[0, 0], [top, bottom], [left, right], [0, 0]],
    )


# --- The backward passes: (inputs, kernel, output gradient) -> gradients ---


def _tensorflow_gradients(inputs, kernel, output_gradient, padding):
    (top, bottom), (left, right) = padding
    explicit = dict(
        strides=[1, 1, 1, 1],
        padding="EXPLICIT",
        explicit_paddings=[0, 0, top, bottom, left, right, 0, 0],
    )
    input_gradient = tf.raw_ops.Conv2DBackpropInput(
        input_sizes=tf.shape(inputs), filter=kernel, out_backprop=output_gradient, **explicit
    )
    kernel_gradient = tf.raw_ops.Conv2DBackpropFilter(
        input=inputs, filter_sizes=tf.shape(kernel), out_backprop=output_gradient, **explicit
    )
    return input_gradient, kernel_gradient


def _flipped_kernel_input_gradient(kernel, output_gradient, padding):
    """The input gradient as a forward convolution of the output gradient."""
    (top, bottom), (left, right) = padding
    kernel_height, kernel_width = kernel.shape[0], kernel.shape[1]
    # It pads the output gradient by what the forward pass did not:
    # kernel - 1 - padding on each side.
    input_gradient_padding = (
        (kernel_height - 1 - top, kernel_height - 1 - bottom),
        (kernel_width - 1 - left, kernel_width - 1 - right),
    )
    flipped = tf.transpose(tf.reverse(kernel, [0, 1]), [0, 1, 3, 2])
    return _conv(output_gradient, flipped, input_gradient_padding)


def _forward_gradients(inputs, kernel, output_gradient, padding):
    input_gradient = _flipped_kernel_input_gradient(kernel, output_gradient, padding)
    # Channels as the batch, the batch as the summed channels:
    # (in, height, width, batch) * (height', width', batch, out)
    # -> (in, kernel_height, kernel_width, out).
    kernel_gradient = _conv(
        tf.transpose(inputs, [3, 1, 2, 0]),
        tf.transpose(output_gradient, [1, 2, 0, 3]),
        padding,
    )
    return input_gradient, tf.transpose(kernel_gradient, [1, 2, 0, 3])


def _same_square(kernel, padding):
    """The kernel embedded with zeros in an odd square centred on the output
    position (tap `a` of the kernel reads offset `a - top`), and the
    `(row, column)` of the kernel's first tap in the square."""
    (top, bottom), (left, right) = padding
    half_height, half_width = max(top, bottom), max(left, right)
    embedding = [
        [half_height - top, half_height - bottom],
        [half_width - left, half_width - right],
        [0, 0],
        [0, 0],
    ]
    return tf.pad(kernel, embedding), (half_height - top, half_width - left)


def _same_kernel_gradient(inputs, square, corner, kernel_shape, output_gradient):
    """The kernel gradient as TensorFlow's for the square with "same"
    padding, cut down to the kernel's taps."""
    square_gradient = tf.raw_ops.Conv2DBackpropFilter(
        input=inputs,
        filter_sizes=tf.shape(square),
        out_backprop=output_gradient,
        strides=[1, 1, 1, 1],
        padding="SAME",
    )
    row, column = corner
    return square_gradient[
        row : row + kernel_shape[0], column : column + kernel_shape[1]
    ]


def _same_gradients(inputs, kernel, output_gradient, padding):
    square, corner = _same_square(kernel, padding)
    input_gradient = tf.raw_ops.Conv2DBackpropInput(
        input_sizes=tf.shape(inputs),
        filter=square,
        out_backprop=output_gradient,
        strides=[1, 1, 1, 1],
        padding="SAME",
    )
    kernel_gradient = _same_kernel_gradient(
        inputs, square, corner, kernel.shape, output_gradient
    )
    return input_gradient, kernel_gradient


def _forward_same_gradients(inputs, kernel, output_gradient, padding):
    square, corner = _same_square(kernel, padding)
    input_gradient = _flipped_kernel_input_gradient(kernel, output_gradient, padding)
    kernel_gradient = _same_kernel_gradient(
        inputs, square, corner, kernel.shape, output_gradient
    )
    return input_gradient, kernel_gradient


def _static_or_dynamic(tensor, axis):
    size = tensor.shape[axis]
    return tf.shape(tensor)[axis] if size is None else size


def _matmul_gradients(inputs, kernel, output_gradient, padding):
    (top, bottom), (left, right) = padding
    kernel_height, kernel_width, in_channels, out_channels = kernel.shape
    input_gradient = _flipped_kernel_input_gradient(kernel, output_gradient, padding)
    # On the padded grid, flattened over (batch, row, column), output
    # position n reads input position n + a * padded_width + b at tap (a, b):
    # a slice of the flat padded input (a view, not a copy). The output
    # gradient is zero-padded to the same grid, so that every position
    # whose tap would run past a row or an image contributes nothing.
    padded_width = _static_or_dynamic(inputs, 2) + left + right
    flat_inputs = tf.reshape(
        tf.pad(inputs, [[0, 0], [top, bottom], [left, right], [0, 0]]), [-1, in_channels]
    )
    # The output is the padded grid less kernel - 1 rows and columns.
    flat_gradient = tf.reshape(
        tf.pad(
            output_gradient, [[0, 0], [0, kernel_height - 1], [0, kernel_width - 1], [0, 0]]
        ),
        [-1, out_channels],
    )
    positions = tf.shape(flat_inputs)[0]
    tap_gradients = []
    for a in range(kernel_height):
        for b in range(kernel_width):
            shift = a * padded_width + b
            tap_gradients.append(
                tf.matmul(
                    flat_inputs[shift:],
                    flat_gradient[: positions - shift],
                    transpose_a=True,
                )
            )
    kernel_gradient = tf.reshape(
        tf.stack(tap_gradients), [kernel_height, kernel_width, in_channels, out_channels]
    )
    return input_gradient, kernel_gradient


_GRADIENTS = {
    "tensorflow": _tensorflow_gradients,
    "forward": _forward_gradients,
    "same": _same_gradients,
    "matmul": _matmul_gradients,
    "forward_same": _forward_same_gradients,
}


# --- Choosing one -------------------------------------------------------------------


def _seconds(function, arguments):
    start = time.perf_counter()
    for output in function(*arguments):
        output.numpy()
    return time.perf_counter() - start


def _measure(input_shape, kernel_shape, padding, dtype, candidates, repeats=7):
    """The fastest of `repeats` timings of each candidate's backward pass on
    random tensors, in seconds. The candidates take turns, so that a busy
    spell of the machine does not fall on one of them only."""
    (top, bottom), (left, right) = padding
    batch, height, width, channels = input_shape
    output_shape = [
        batch,
        height + top + bottom - kernel_shape[0] + 1,
        width + left + right - kernel_shape[1] + 1,
        kernel_shape[3],
    ]
    with tf.init_scope():  # eagerly, also while a graph is being traced
        arguments = (
            tf.cast(tf.random.stateless_normal(input_shape, [0, 1]), dtype),
            tf.cast(tf.random.stateless_normal(kernel_shape, [0, 2]), dtype),
            tf.cast(tf.random.stateless_normal(output_shape, [0, 3]), dtype),
        )
        functions = {
            name: tf.function(
                functools.partial(_GRADIENTS[name], padding=padding), autograph=False
            )
            for name in candidates
        }
        for function in functions.values():
            _seconds(function, arguments)  # traces
            _seconds(function, arguments)
        timings = {name: [] for name in candidates}
        for _ in range(repeats):
            for name, function in functions.items():
                timings[name].append(_seconds(function, arguments))
    return {name: min(seconds) for name, seconds in timings.items()}


def choose_backward(input_shape, kernel_shape, padding, dtype):
    """The backward pass a convolution of these shapes uses.

    Args:
        input_shape: `(batch, height, width, in_channels)`; the batch may be
            None (a traced batch), the other sizes must be known to measure.
        kernel_shape: `(kernel_height, kernel_width, in_channels,
            out_channels)`.
        padding: `((top, bottom), (left, right))`.
        dtype: the convolution's dtype.

    Returns:
        One of `BACKWARD_PASSES`: the pinned one (`PIXEL_KERAS_CONV`), the
        one measured fastest for this (device kind, shapes, padding, dtype)
        on this machine, or the device's default.

    Raises:
        ValueError: if `PIXEL_KERAS_CONV` names no backward pass.
    """
    keeps_size = _keeps_size(kernel_shape, padding)
    pinned = _pinned_backward()
    if pinned is not None:
        applies = pinned not in SIZE_KEEPING_PASSES or keeps_size
        return pinned if applies else default_backward()
    input_shape = tuple(input_shape)
    key = (
        _device_kind(),
        input_shape,
        tuple(kernel_shape),
        tuple(map(tuple, padding)),
        tf.as_dtype(dtype).name,
    )
    if key in _CHOICES:
        return _CHOICES[key]
    choice = default_backward()
    known = None not in input_shape[1:] and None not in tuple(kernel_shape)
    if known:
        batch = input_shape[0] or MEASURED_BATCH
        height, width = input_shape[1:3]
        macs = batch * height * width * kernel_shape[0] * kernel_shape[1]
        macs *= kernel_shape[2] * kernel_shape[3]
        if macs >= MIN_MEASURED_MACS:
            candidates = [
                n for n in BACKWARD_PASSES if n not in SIZE_KEEPING_PASSES or keeps_size
            ]
            timings = _measure(
                (batch, *input_shape[1:]), kernel_shape, padding, dtype, candidates
            )
            _TIMINGS[key] = timings
            choice = min(timings, key=timings.get)
    _CHOICES[key] = choice
    return choice


def measured_backward_passes():
    """What the measurements found so far: a list of `(input shape, kernel
    shape, padding, dtype, {backward pass: seconds}, choice)`."""
    return [
        (key[1], key[2], key[3], key[4], dict(timings), _CHOICES[key])
        for key, timings in _TIMINGS.items()
    ]


def padded_conv2d(inputs, kernel, padding, forward_gradients=None, *, backward=None):
    """Convolves `inputs` zero-padded by `padding` with `kernel` (stride 1, VALID).

    Args:
        inputs: `(batch, height, width, in_channels)` tensor.
        kernel: `(kernel_height, kernel_width, in_channels, out_channels)`
            tensor.
        padding: `((top, bottom), (left, right))`, the zeros added to each
            side, each at most the kernel's size minus one along its axis.
        forward_gradients: bool or None: True pins `backward="forward"`,
            False `backward="tensorflow"` (the argument of earlier versions).
        backward: one of `BACKWARD_PASSES` for this call, or None (the
            default) to choose as the module docstring says.

    Returns:
        `(batch, height + top + bottom - kernel_height + 1,
        width + left + right - kernel_width + 1, out_channels)` tensor.
    """
    inputs = tf.convert_to_tensor(inputs)
    kernel = tf.convert_to_tensor(kernel)
    (top, bottom), (left, right) = padding
    kernel_height, kernel_width = kernel.shape[0], kernel.shape[1]
    if not (
        0 <= top < kernel_height
        and 0 <= bottom < kernel_height
        and 0 <= left < kernel_width
        and 0 <= right < kernel_width
    ):
        raise ValueError(
            "Expected each padding below the kernel's size along its axis. "
            f"Received: padding={padding} for a kernel of shape {kernel.shape}"
        )
    if forward_gradients is not None and backward is None:
        backward = "forward" if forward_gradients else "tensorflow"
    if backward is not None and backward not in BACKWARD_PASSES:
        raise ValueError(
            f"Expected `backward` in {BACKWARD_PASSES}. Received: backward={backward!r}"
        )
    if backward in SIZE_KEEPING_PASSES and not _keeps_size(kernel.shape, padding):
        raise ValueError(
            f"`backward={backward!r}` needs an output of the input's size (padding "
            f"summing to the kernel's size minus one). Received: padding={padding} "
            f"for a kernel of shape {kernel.shape}"
        )

    @tf.custom_gradient
    def convolution(inputs, kernel):
        def gradient(output_gradient):
            name = backward or choose_backward(
                inputs.shape, kernel.shape, padding, inputs.dtype
            )
            return _GRADIENTS[name](inputs, kernel, output_gradient, padding)

        return _conv(inputs, kernel, padding), gradient

    return convolution(inputs, kernel)
