"""Cached sampling of the Diagonal BiLSTM PixelRNN.

Each layer's output at `(r, c)` is `forward(r, c) + backward(r - 1, c)`:

- the forward Diagonal LSTM's state at `(r, c)` reads the layer's input
  there (1 x 1 mask B) and the forward states above, `(r - 1, c)`, and to the
  left, `(r, c - 1)` (hidden and cell; zero left of column 0, where the skew
  pads with zero gates, and above row 0). It runs one cell per pixel: the
  row above's hidden states become every column's state-to-state gates once
  per row (one batched matmul, with the bias), the left neighbour's state is
  carried from pixel to pixel, and the input-to-state tap joins per
  sub-pixel.
- the backward Diagonal LSTM (on the mirrored map) has its state at
  `(r - 1, c)` read its input on row `r - 1` and its states above and to the
  *right*, so it depends on all of row `r - 1`, columns `>= c`. It cannot run
  pixel by pixel: it runs once row `r - 1` is complete, as a right-to-left
  scan over that row for every layer at once (the layers' backward
  directions are independent given their inputs on row `r - 1`, which the
  forward passes of that row produced), from the backward hidden states of
  row `r - 2`. The resulting row of states is what row `r` reads.

The backward input of the first layer is `input_conv_backward`, a 7 x 7
mask-B convolution of the image that also reads each pixel itself; it is
computed for the whole finished row, from the last four image rows. The
backward inputs of the other layers are the layers' inputs, kept for every
pixel of the row.

So, per layer, the cache holds the forward hidden states of the row above,
the backward hidden states of the row above (for the next scan and for this
row's outputs), the forward state of the pixel to the left, and the layer's
inputs along the current row.
"""

import tensorflow as tf

from pixel_keras.layers.lstm_gates import lstm_update
from pixel_keras.models import categorical
from pixel_keras.models.pixel_rnn.layer_names import INPUT_CONV_BACKWARD
from pixel_keras.models.pixel_rnn.layer_names import layer_part
from pixel_keras.sampling import subpixel


class _DiagonalBiLSTMNetwork:
    """The Diagonal BiLSTM layers of a `PixelRNN` at one pixel (see
    `subpixel`)."""

    def __init__(self, model, condition, batch):
        self.batch = batch
        self.num_layers = model.num_layers
        self.units = units = model.num_filters
        self.width = model.image_shape[1]
        self.condition_biases = subpixel.condition_biases(
            model, [layer_part(i, "class_bias") for i in range(self.num_layers)], condition
        )
        # The first layer's condition bias joins the input convolution; the
        # others are added to the stream, after the previous skip reads it.
        self.input_conv = model.cached_input_convolution(self.condition_biases[0])
        weights = {"forward": ([], [], []), "backward": ([], [], [])}
        self.residual = []
        for i in range(self.num_layers):
            lstm = model.get_layer(layer_part(i, "lstm"))
            for name, direction in (
                ("forward", lstm.forward_lstm),
                ("backward", lstm.backward_lstm),
            ):
                inputs, states, biases = weights[name]
                inputs.append(subpixel.masked_kernel(direction.input_to_state)[0, 0])
                states.append(tf.convert_to_tensor(direction.state_kernel))
                biases.append(tf.convert_to_tensor(direction.bias))
            residual = model.get_layer(layer_part(i, "residual"))
            self.residual.append(subpixel.pointwise(residual))
        # The state kernels' rows [:u] act on the state above, [u:] on the
        # state beside (left forward, right backward).
        inputs, states, biases = weights["forward"]
        self.forward_input_kernels = inputs
        states = tf.stack(states)
        self.forward_above_kernel = states[:, :units]
        self.forward_beside_kernel = states[:, units:]
        self.forward_bias = tf.stack(biases)[:, tf.newaxis]
        inputs, states, biases = weights["backward"]
        self.backward_input_kernel = tf.stack(inputs)
        states = tf.stack(states)
        self.backward_above_kernel = states[:, :units]
        self.backward_beside_kernel = states[:, units:]
        self.backward_bias = tf.stack(biases)[:, tf.newaxis]
        self.skip_sum = subpixel.SkipSum(
            [model.get_layer(layer_part(i, "skip")) for i in range(self.num_layers)]
        )
        self.output_stack = model.cached_output_stack()

        # The first backward input: `input_conv_backward` at the finished row
        # reads it and the rows above within its kernel.
        backward_conv = model.get_layer(INPUT_CONV_BACKWARD)
        half_rows = backward_conv.kernel_size[0] // 2
        input_conv = model.get_layer(categorical.INPUT_CONV)
        if backward_conv.kernel_size[1] != input_conv.kernel_size[1]:
            raise ValueError(
                "The cached sampler pads the image rows for `input_conv`; "
                "`input_conv_backward` must be as wide. Received: kernel sizes "
                f"{input_conv.kernel_size} and {backward_conv.kernel_size}"
            )
        self.image_rows = half_rows + 1
        kernel = subpixel.masked_kernel(backward_conv)
        self.backward_conv_kernel = kernel[: half_rows + 1]
        self.backward_conv_bias = tf.convert_to_tensor(backward_conv.bias)

    def initial_state(self):
        # The forward and backward hidden states of the row above, (W, N, B,
        # 2u): zero above the first row (and the backward output is shifted
        # down a row, so row 0 reads zeros too).
        return tf.zeros([self.width, self.num_layers, self.batch, 2 * self.units])

    def begin_row(self, state):
        forward, backward = tf.split(state, 2, -1)
        gates = (
            tf.einsum(subpixel.ROW_MATMUL, forward, self.forward_above_kernel)
            + self.forward_bias
        )
        # One tensor, so that each pixel slices it once.
        return tf.concat([gates, backward], -1)

    def end_row(self, state, records, slab):
        """The row's forward states, and the backward scan over the row."""
        units = self.units
        forward, inputs = records[..., :units], records[..., units:]
        first = subpixel.row_convolution(
            slab[:, -self.image_rows :],
            self.backward_conv_kernel,
            self.backward_conv_bias,
        )
        inputs = tf.concat([first[:, tf.newaxis], inputs[:, 1:]], 1)
        gates = (
            tf.einsum(subpixel.ROW_MATMUL, inputs, self.backward_input_kernel)
            + tf.einsum(subpixel.ROW_MATMUL, state[..., units:], self.backward_above_kernel)
            + self.backward_bias
        )

        def step(states, column_gates):
            hidden, cell = states
            column_gates = column_gates + tf.matmul(hidden, self.backward_beside_kernel)
            return lstm_update(column_gates, cell, sigmoid_once=True)

        zeros = tf.zeros([self.num_layers, self.batch, units])
        backward, _ = tf.scan(step, gates, initializer=(zeros, zeros), reverse=True)
        return tf.concat([forward, backward], -1)

    def initial_carry(self):
        # The forward hidden and cell states at the pixel to the left,
        # (N, B, 2u): zero left of the first column.
        return tf.zeros([self.num_layers, self.batch, 2 * self.units])

    def begin_pixel(self, row_context, carry, col):
        gates, backward = tf.split(row_context[col], [4 * self.units, self.units], -1)
        hidden, cell = tf.split(carry, 2, -1)
        gates = gates + tf.matmul(hidden, self.forward_beside_kernel)
        return tf.unstack(gates), tf.unstack(cell), tf.unstack(backward)

    def forward(self, pixel_context, features, channel):
        gates_beside, cells_left, backward = pixel_context
        inputs, states, outputs = [], [], []
        for i in range(self.num_layers):
            if i > 0 and self.condition_biases[i] is not None:
                features = features + self.condition_biases[i]
            inputs.append(features)
            gates = gates_beside[i] + tf.matmul(features, self.forward_input_kernels[i])
            hidden, cell = lstm_update(gates, cells_left[i], sigmoid_once=True)
            states.append(tf.concat([hidden, cell], -1))
            # The layer's output: forward here, backward from the row above.
            output = hidden + backward[i]
            kernel, bias = self.residual[i]
            features = features + tf.nn.bias_add(tf.matmul(output, kernel), bias)
            outputs.append(features)
        return self.output_stack(self.skip_sum(outputs), channel), (inputs, states)

    def end_pixel(self, activations, carry):
        inputs, states = activations
        states = tf.stack(states)
        record = tf.concat([states[..., : self.units], tf.stack(inputs)], -1)
        return states, record


def build_loop(model, jit_compile=False, teacher_forced_rows=True):
    """The traced cached sampling loop of a Diagonal BiLSTM `PixelRNN`
    (`subpixel.build_loop`)."""
    return subpixel.build_loop(
        model,
        _DiagonalBiLSTMNetwork,
        jit_compile=jit_compile,
        teacher_forced_rows=teacher_forced_rows,
    )


def cached_logits(model, images, condition=None):
    """The logits the cached loop computes for `images`, which equal the
    full network's (`subpixel.teacher_forced_logits`)."""
    return subpixel.teacher_forced_logits(
        model, _DiagonalBiLSTMNetwork, images, condition
    )
