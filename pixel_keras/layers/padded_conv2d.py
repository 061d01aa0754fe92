"""Stride-1 convolution with zero padding, and a faster backward pass on CPU.

The causal convolutions of PixelCNN++ are small kernels (2x3, 2x2) over
asymmetrically padded maps (the masked convolutions of the PixelRNN paper
use it too, with "same" padding). On CPU, TensorFlow's backward kernels for them
(`Conv2DBackpropFilter`, `Conv2DBackpropInput`) take 2-3x as long as the
forward convolution, and they are most of a training step. Both gradients are
themselves convolutions, so `padded_conv2d` computes them with the forward
kernel:

* the input gradient is the output gradient convolved with the kernel
  flipped in space and with its channel axes swapped, padded so that the
  result has the input's size;
* the kernel gradient is a convolution in which the roles change: the input
  channels act as the batch, the batch as the channels being summed, and the
  output gradient as a (large) kernel, so that the result has the kernel's
  size.

Both are exact (the same sums in another order), so only float rounding
differs from TensorFlow's own gradient. As Keras does when it decides on XLA,
the custom backward pass is used when TensorFlow sees no GPU or other
accelerator; there the vendor's backward kernels are kept.
"""

import functools

import tensorflow as tf


@functools.cache
def cpu_only():
    """Whether TensorFlow sees only CPU devices (then the custom backward runs)."""
    return all(d.device_type == "CPU" for d in tf.config.list_physical_devices())


def _conv(inputs, kernel, padding):
    (top, bottom), (left, right) = padding
    return tf.nn.conv2d(
        inputs,
        kernel,
        strides=1,
        padding=[[0, 0], [top, bottom], [left, right], [0, 0]],
    )


def padded_conv2d(inputs, kernel, padding, forward_gradients=None):
    """Convolves `inputs` zero-padded by `padding` with `kernel` (stride 1, VALID).

    Args:
        inputs: `(batch, height, width, in_channels)` tensor.
        kernel: `(kernel_height, kernel_width, in_channels, out_channels)`
            tensor.
        padding: `((top, bottom), (left, right))`, the zeros added to each
            side, each at most the kernel's size minus one along its axis.
        forward_gradients: bool, whether the gradients are computed with
            forward convolutions (see the module docstring); None (default)
            chooses them when TensorFlow sees only CPUs.

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
    if forward_gradients is None:
        forward_gradients = cpu_only()
    if not forward_gradients:
        return _conv(inputs, kernel, padding)
    # The input gradient pads the output gradient by what the forward pass
    # did not: kernel - 1 - padding on each side.
    input_gradient_padding = (
        (kernel_height - 1 - top, kernel_height - 1 - bottom),
        (kernel_width - 1 - left, kernel_width - 1 - right),
    )

    @tf.custom_gradient
    def convolution(inputs, kernel):
        def gradient(output_gradient):
            flipped = tf.transpose(tf.reverse(kernel, [0, 1]), [0, 1, 3, 2])
            input_gradient = _conv(output_gradient, flipped, input_gradient_padding)
            # Channels as the batch, the batch as the summed channels:
            # (in, height, width, batch) * (height', width', batch, out)
            # -> (in, kernel_height, kernel_width, out).
            kernel_gradient = _conv(
                tf.transpose(inputs, [3, 1, 2, 0]),
                tf.transpose(output_gradient, [1, 2, 0, 3]),
                padding,
            )
            return input_gradient, tf.transpose(kernel_gradient, [1, 2, 0, 3])

        return _conv(inputs, kernel, padding), gradient

    return convolution(inputs, kernel)
