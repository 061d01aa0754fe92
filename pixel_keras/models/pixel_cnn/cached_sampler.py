"""Cached sampling of the PixelRNN paper's PixelCNN.

Every layer is a masked convolution, so a layer's output at a pixel reads its
input at that pixel (within the channel mask) and at a few earlier
positions, which never change once drawn. What is cached, per residual block
`i` (the 1 x 1 convolutions need nothing but the pixel itself):

- the 3 x 3 mask-B convolution's input on the previous row: its three taps
  above every column are one batched matmul per row (with the bias);
- its input at the pixel to the left: one matmul per pixel;
- the centre tap: one matmul per sub-pixel, in the chain of the block's
  1 x 1 layers.

The 7 x 7 mask-A input convolution and the output stack are handled by
`pixel_keras.sampling.subpixel` in the same way (rows above once per row, the three
pixels to the left once per pixel, the centre per sub-pixel). Nothing is
left uncached: each pixel costs one pass of the network at that pixel per
channel.
"""

import tensorflow as tf

from pixel_keras.models.pixel_cnn.layer_names import block_layer
from pixel_keras.sampling import subpixel


class _PixelCNNNetwork:
    """The residual blocks of a `PixelCNN` at one pixel (see `subpixel`)."""

    image_rows = 0

    def __init__(self, model, condition, batch):
        self.batch = batch
        self.num_layers = model.num_layers
        self.units = model.num_filters
        self.width = model.image_shape[1]
        condition_biases = subpixel.condition_biases(
            model, [block_layer(i, "class_bias") for i in range(self.num_layers)], condition
        )
        # The first block's condition bias joins the input convolution; each
        # later one joins the previous block's last bias (it is added to the
        # sum of that block's input and output).
        self.input_conv = model.cached_input_convolution(condition_biases[0])
        self.reduce, self.expand = [], []
        above, left, centre, conv_bias = [], [], [], []
        for i in range(self.num_layers):
            self.reduce.append(subpixel.pointwise(model.get_layer(block_layer(i, "reduce"))))
            kernel, bias = subpixel.pointwise(model.get_layer(block_layer(i, "expand")))
            if i + 1 < self.num_layers and condition_biases[i + 1] is not None:
                bias = bias + condition_biases[i + 1]
            self.expand.append((kernel, bias))
            conv = model.get_layer(block_layer(i, "conv"))
            kernel = subpixel.masked_kernel(conv)
            half = conv.kernel_size[0] // 2
            if conv.kernel_size != (2 * half + 1, 2 * half + 1):
                raise ValueError(
                    f"Expected a square `{conv.name}` kernel. "
                    f"Received: kernel_size={conv.kernel_size}"
                )
            # Rows above the centre, row by row and then tap by tap, as
            # `begin_row` lays out their inputs.
            above.append(tf.reshape(kernel[:half], [-1, self.units]))
            left.append(tf.reshape(kernel[half, :half], [-1, self.units]))
            centre.append(kernel[half, half])
            conv_bias.append(tf.convert_to_tensor(conv.bias))
        self.half = half
        self.above_kernel = tf.stack(above)
        self.left_kernel = tf.stack(left)
        self.centre_kernels = centre
        self.conv_bias = tf.stack(conv_bias)[:, tf.newaxis]
        self.output_stack = model.cached_output_stack()

    def initial_state(self):
        # The convolutions' inputs on the last `half` rows, (half, W, N, B,
        # h): zero above the first row (their "same" padding).
        shape = [self.half, self.width, self.num_layers, self.batch, self.units]
        return tf.zeros(shape)

    def begin_row(self, state):
        # The taps of every row above, side by side: (W, N, B, half k h).
        rows = tf.unstack(state)
        taps = tf.concat([subpixel.row_taps(row, self.half, self.width) for row in rows], -1)
        # Each layer's own kernel; see `subpixel.ROW_MATMUL`.
        return tf.einsum(subpixel.ROW_MATMUL, taps, self.above_kernel) + self.conv_bias

    def end_row(self, state, records, slab):
        return tf.concat([state[1:], records[tf.newaxis]], 0)

    def initial_carry(self):
        # The convolutions' inputs at the `half` pixels to the left, oldest
        # first, (N, B, half h): zero left of the first column.
        return tf.zeros([self.num_layers, self.batch, self.half * self.units])

    def begin_pixel(self, row_context, carry, col):
        return tf.unstack(row_context[col] + tf.matmul(carry, self.left_kernel))

    def forward(self, pixel_context, features, channel):
        inputs = []
        for i in range(self.num_layers):
            kernel, bias = self.reduce[i]
            reduced = tf.matmul(tf.nn.relu(features), kernel)
            reduced = tf.nn.relu(tf.nn.bias_add(reduced, bias))
            inputs.append(reduced)
            conv = pixel_context[i] + tf.matmul(reduced, self.centre_kernels[i])
            conv = tf.nn.relu(conv)
            kernel, bias = self.expand[i]
            features = features + (tf.matmul(conv, kernel) + bias)
        return self.output_stack(features, channel), inputs

    def known_row(self, row_context, features):
        """`begin_pixel`, `forward` and `end_pixel` at every pixel of a known
        row at once: the records, `(W, N, B, h)`."""
        inputs = []
        for i in range(self.num_layers):
            kernel, bias = self.reduce[i]
            reduced = tf.tensordot(tf.nn.relu(features), kernel, 1)
            reduced = tf.nn.relu(tf.nn.bias_add(reduced, bias))
            inputs.append(reduced)
            left = subpixel.left_taps(reduced, self.half)
            conv = row_context[:, i] + tf.tensordot(left, self.left_kernel[i], 1)
            conv = tf.nn.relu(conv + tf.tensordot(reduced, self.centre_kernels[i], 1))
            kernel, bias = self.expand[i]
            features = features + (tf.tensordot(conv, kernel, 1) + bias)
        return tf.stack(inputs, 1)

    def end_pixel(self, activations, carry):
        record = tf.stack(activations)
        return tf.concat([carry[..., self.units :], record], -1), record


def build_loop(model, jit_compile=False, teacher_forced_rows=True):
    """The traced cached sampling loop of a `PixelCNN` (`subpixel.build_loop`)."""
    return subpixel.build_loop(
        model,
        _PixelCNNNetwork,
        jit_compile=jit_compile,
        teacher_forced_rows=teacher_forced_rows,
    )


def cached_logits(model, images, condition=None):
    """The logits the cached loop computes for `images`, which equal the
    full network's (`subpixel.teacher_forced_logits`)."""
    return subpixel.teacher_forced_logits(model, _PixelCNNNetwork, images, condition)
