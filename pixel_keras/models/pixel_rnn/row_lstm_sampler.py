"""Cached sampling of the Row LSTM PixelRNN.

A Row LSTM layer's state at `(r, c)` reads its input at `(r, c - 1)` and,
within the channel mask, `(r, c)` (a 1 x k mask-B convolution along the row),
the hidden state of the row above at `(r - 1, c - k//2 .. c + k//2)` and the
cell state above, at `(r - 1, c)`. What is cached, per layer:

- the hidden and cell states of the previous row: once per row, one batched
  matmul turns the hidden states into every column's state-to-state gates
  (with the bias);
- the layer's input at the `k // 2` pixels to the left: one matmul per
  pixel;
- the input-to-state centre tap, the cell update and the 1 x 1 residual and
  skip convolutions: once per sub-pixel.

The recurrence runs along the rows exactly as the layer's scan does, only one
cell at a time, so nothing is left uncached.
"""

import tensorflow as tf

from pixel_keras.layers.lstm_gates import lstm_update
from pixel_keras.models.pixel_rnn.layer_names import layer_part
from pixel_keras.sampling import subpixel


class _RowLSTMNetwork:
    """The Row LSTM layers of a `PixelRNN` at one pixel (see `subpixel`)."""

    image_rows = 0

    def __init__(self, model, condition, batch):
        self.batch = batch
        self.num_layers = model.num_layers
        self.units = model.num_filters
        self.width = model.image_shape[1]
        self.condition_biases = subpixel.condition_biases(
            model, [layer_part(i, "class_bias") for i in range(self.num_layers)], condition
        )
        # The first layer's condition bias joins the input convolution; the
        # others are added to the stream, after the previous skip reads it.
        self.input_conv = model.cached_input_convolution(self.condition_biases[0])
        left, self.centre_kernels = [], []
        state_kernels, state_biases = [], []
        self.residual = []
        for i in range(self.num_layers):
            lstm = model.get_layer(layer_part(i, "lstm"))
            half = lstm.kernel_size // 2
            kernel = subpixel.masked_kernel(lstm.input_to_state)[0]
            streams = kernel.shape[1]
            left.append(tf.reshape(kernel[:half], [half * streams, 4 * self.units]))
            self.centre_kernels.append(kernel[half])
            state_kernels.append(tf.convert_to_tensor(lstm.state_kernel))
            state_biases.append(tf.convert_to_tensor(lstm.bias))
            residual = model.get_layer(layer_part(i, "residual"))
            self.residual.append(subpixel.pointwise(residual))
        self.half, self.streams = half, streams
        self.left_kernel = tf.stack(left)
        self.state_kernel = tf.stack(state_kernels)
        self.state_bias = tf.stack(state_biases)[:, tf.newaxis]
        self.skip_sum = subpixel.SkipSum(
            [model.get_layer(layer_part(i, "skip")) for i in range(self.num_layers)]
        )
        self.output_stack = model.cached_output_stack()

    def initial_state(self):
        # Hidden and cell states of the row above, (W, N, B, 2u): zero above
        # the first row.
        return tf.zeros([self.width, self.num_layers, self.batch, 2 * self.units])

    def begin_row(self, state):
        hidden, cell = tf.split(state, 2, -1)
        taps = subpixel.row_taps(hidden, self.half, self.width)
        gates = tf.einsum(subpixel.ROW_MATMUL, taps, self.state_kernel) + self.state_bias
        # One tensor, so that each pixel slices it once.
        return tf.concat([gates, cell], -1)

    def end_row(self, state, records, slab):
        return records

    def initial_carry(self):
        # The layers' inputs at the `half` pixels to the left, oldest first:
        # (N, B, half * 2h).
        return tf.zeros([self.num_layers, self.batch, self.half * self.streams])

    def begin_pixel(self, row_context, carry, col):
        gates, cell = tf.split(row_context[col], [4 * self.units, self.units], -1)
        gates = gates + tf.matmul(carry, self.left_kernel)
        return tf.unstack(gates), tf.unstack(cell)

    def forward(self, pixel_context, features, channel):
        gates_above, cells_above = pixel_context
        inputs, states, outputs = [], [], []
        for i in range(self.num_layers):
            if i > 0 and self.condition_biases[i] is not None:
                features = features + self.condition_biases[i]
            inputs.append(features)
            gates = gates_above[i] + tf.matmul(features, self.centre_kernels[i])
            hidden, cell = lstm_update(gates, cells_above[i], sigmoid_once=True)
            states.append(tf.concat([hidden, cell], -1))
            kernel, bias = self.residual[i]
            features = features + tf.nn.bias_add(tf.matmul(hidden, kernel), bias)
            outputs.append(features)
        return self.output_stack(self.skip_sum(outputs), channel), (inputs, states)

    def known_row(self, row_context, features):
        """`begin_pixel`, `forward` and `end_pixel` at every pixel of a known
        row at once: the records, `(W, N, B, 2u)`. A Row LSTM's state reads
        the row above, never the pixel to the left, so each layer is one
        step for the whole row."""
        gates_above, cells_above = tf.split(row_context, [4 * self.units, self.units], -1)
        states = []
        for i in range(self.num_layers):
            if i > 0 and self.condition_biases[i] is not None:
                features = features + self.condition_biases[i]
            left = subpixel.left_taps(features, self.half)
            gates = gates_above[:, i] + tf.tensordot(left, self.left_kernel[i], 1)
            gates = gates + tf.tensordot(features, self.centre_kernels[i], 1)
            hidden, cell = lstm_update(gates, cells_above[:, i], sigmoid_once=True)
            states.append(tf.concat([hidden, cell], -1))
            kernel, bias = self.residual[i]
            features = features + tf.nn.bias_add(tf.tensordot(hidden, kernel, 1), bias)
        return tf.stack(states, 1)

    def end_pixel(self, activations, carry):
        inputs, states = activations
        carry = tf.concat([carry[..., self.streams :], tf.stack(inputs)], -1)
        return carry, tf.stack(states)


def build_loop(model, jit_compile=False, teacher_forced_rows=True):
    """The traced cached sampling loop of a Row LSTM `PixelRNN` (`subpixel.build_loop`)."""
    return subpixel.build_loop(
        model,
        _RowLSTMNetwork,
        jit_compile=jit_compile,
        teacher_forced_rows=teacher_forced_rows,
    )


def cached_logits(model, images, condition=None):
    """The logits the cached loop computes for `images`, which equal the
    full network's (`subpixel.teacher_forced_logits`)."""
    return subpixel.teacher_forced_logits(model, _RowLSTMNetwork, images, condition)
