"""The Diagonal LSTM and Diagonal BiLSTM of the PixelRNN paper.

The image is *skewed* so that row `r` moves right by `r`: pixel `(r, c)` lands
at column `r + c` of an `H x (W + H - 1)` map, and each diagonal of the image
becomes a column. Scanning the skewed map column by column then updates a
whole diagonal at once, and each pixel's state reads the previous column at
rows `r - 1` and `r`, which are the pixels `(r - 1, c)` (above) and `(r, c - 1)`
(left) of the image.
"""

import keras
import tensorflow as tf
from keras import ops

from pixel_keras.layers.image_lstm import ImageLSTM
from pixel_keras.layers.lstm_gates import gate_bias_initializer
from pixel_keras.layers.lstm_gates import lstm_update


def skew(x):
    """Shifts row `r` of a `(B, H, W, C)` map right by `r`: `(B, H, W + H - 1, C)`.

    Pixel `(r, c)` moves to `(r, r + c)`; the new positions are zeros.
    """
    _, height, width, channels = ops.shape(x)
    # Padding each row with H zeros and re-reading the flat map with rows one
    # shorter moves row r right by r.
    x = ops.pad(x, [[0, 0], [0, 0], [0, height], [0, 0]])
    x = ops.reshape(x, (-1, height * (width + height), channels))
    x = ops.slice(x, [0, 0, 0], [-1, height * (width + height - 1), -1])
    return ops.reshape(x, (-1, height, width + height - 1, channels))


def unskew(x):
    """The inverse of `skew`: `(B, H, W + H - 1, C)` to `(B, H, W, C)`.

    Pixel `(r, c)` is read from `(r, r + c)`; the other positions are dropped.
    """
    _, height, skewed_width, channels = ops.shape(x)
    width = skewed_width - height + 1
    x = ops.reshape(x, (-1, height * skewed_width, channels))
    x = ops.pad(x, [[0, 0], [0, height], [0, 0]])
    x = ops.reshape(x, (-1, height, width + height, channels))
    return ops.slice(x, [0, 0, 0, 0], [-1, -1, width, -1])


def _shift_down(x):
    """Moves a `(B, H, ...)` map down one row along axis 1, a zero row on top.

    A pad and a `slice`, whose gradient is one pad; a strided slice's would
    fill a zero tensor of the whole input (at every column, in a scan).
    """
    rank = len(x.shape)
    padded = ops.pad(x, [[0, 0], [1, 0]] + [[0, 0]] * (rank - 2))
    return ops.slice(padded, [0] * rank, [-1, ops.shape(x)[1]] + [-1] * (rank - 2))


def _diagonal_scan(skewed_gates, state_kernel):
    """Runs a Diagonal LSTM over the columns of a skewed map of gates.

    The skew's padding must hold zero gates: the states left of each row
    then stay exactly zero (all gates 0 give `c = 0.5 * 0 + 0.5 * tanh(0)`),
    so pixel `(r, 0)` reads a zero state as its left neighbour.

    Args:
        skewed_gates: `(B, H, S, 4u)` skewed input-to-state gates, biases
            included, zero in the padding.
        state_kernel: `(2u, 4u)` state-to-state kernel; rows `[:u]` act on
            the previous column's row `r - 1`, rows `[u:]` on its row `r`.

    Returns:
        `(B, H, S, u)` skewed hidden states.
    """
    units = state_kernel.shape[-1] // 4
    # Columns first, so that the scan steps over them.
    columns = ops.transpose(skewed_gates, (2, 0, 1, 3))
    zeros = ops.zeros_like(columns[0, ..., :units])

    def step(states, column_gates):
        hidden, cell = states
        # The 2 x 1 column convolution over rows r - 1 and r of the previous
        # column (a zero row above the top).
        above = _shift_down(hidden)
        taps = ops.concatenate([above, hidden], axis=-1)
        # A 2-D matmul: one GEMM instead of a batch of small ones.
        recurrent = ops.matmul(ops.reshape(taps, (-1, 2 * units)), state_kernel)
        gates = column_gates + ops.reshape(recurrent, ops.shape(column_gates))
        return list(lstm_update(gates, cell))

    hidden, _ = tf.scan(step, columns, initializer=[zeros, zeros])
    return ops.transpose(hidden, (1, 2, 0, 3))


@keras.saving.register_keras_serializable(package="pixel_keras")
class DiagonalLSTM(ImageLSTM):
    """LSTM that sweeps an image diagonal by diagonal, from the top left.

    Input-to-state is a 1 x 1 mask-B convolution; the map of gates is skewed,
    and a scan over its `W + H - 1` columns updates a whole diagonal per step,
    each pixel from the states of the pixel above and the pixel to its left
    (a 2 x 1 convolution over the previous column). Pixel `(r, c)` therefore
    sees every pixel `(r', c')` with `r' <= r` and `c' <= c`.

    Args:
        units: int, hidden units h (the output channels).
        num_channel_groups: int, the image's colour channels C (R -> G -> B
            order is kept in the input-to-state convolution).
        kernel_initializer: initializer of the input-to-state kernel.
        recurrent_initializer: initializer of the state-to-state kernel.
        **kwargs: base `keras.layers.Layer` arguments.

    Call arguments:
        inputs: `(batch, height, width, channels)` features.

    Output shape:
        `(batch, height, width, units)`.

    Example:

    >>> layer = DiagonalLSTM(16)
    >>> layer(keras.ops.ones((2, 8, 8, 32))).shape
    (2, 8, 8, 16)
    """

    def __init__(
        self,
        units,
        num_channel_groups=1,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        **kwargs,
    ):
        super().__init__(
            units,
            num_channel_groups=num_channel_groups,
            kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer,
            **kwargs,
        )
        self.input_to_state = self._input_to_state(1)

    def build(self, input_shape):
        self.input_to_state.build(input_shape)
        self.state_kernel = self.add_weight(
            name="state_kernel",
            shape=(2 * self.units, 4 * self.units),
            initializer=self.recurrent_initializer,
        )
        self.bias = self.add_weight(
            name="bias", shape=(4 * self.units,), initializer=gate_bias_initializer(self.units)
        )

    def call(self, inputs):
        # The bias joins the gates once for the whole map, before the skew,
        # so that the padding stays zero.
        gates = skew(self.input_to_state(inputs) + self.bias)
        return unskew(_diagonal_scan(gates, self.state_kernel))



@keras.saving.register_keras_serializable(package="pixel_keras")
class DiagonalBiLSTM(ImageLSTM):
    """Two Diagonal LSTMs, from the top left and from the top right.

    The second direction runs on the horizontally mirrored image, is
    mirrored back, and is shifted down by one row before the two are added,
    so that no pixel sees the pixels to its right in its own row. The sum
    sees every pixel before `(r, c)` in raster order: all rows above, and the
    pixels to the left in row `r`.

    Args:
        units: int, hidden units h of each direction (the output channels).
        num_channel_groups: int, the image's colour channels C.
        kernel_initializer: initializer of the input-to-state kernels.
        recurrent_initializer: initializer of the state-to-state kernels.
        **kwargs: base `keras.layers.Layer` arguments.

    Call arguments:
        inputs: `(batch, height, width, channels)` features.
        backward_inputs: optional features of the same height and width for
            the backward direction only. Because that direction's output is
            shifted down a row, its input at `(r, c)` may include pixel
            `(r, c)` itself (a mask-B-like view with every channel). A model
            whose first layer is a mask-A convolution needs this: otherwise
            the last pixel of row `r - 1` first appears in features at row
            `r`, columns `>= W - k // 2`, and outputs left of them never see
            it.

    Output shape:
        `(batch, height, width, units)`.

    Example:

    >>> layer = DiagonalBiLSTM(16)
    >>> layer(keras.ops.ones((2, 8, 8, 32))).shape
    (2, 8, 8, 16)
    """

    def __init__(
        self,
        units,
        num_channel_groups=1,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        **kwargs,
    ):
        super().__init__(
            units,
            num_channel_groups=num_channel_groups,
            kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer,
            **kwargs,
        )
        directions = {}
        for direction in ("forward", "backward"):
            directions[direction] = DiagonalLSTM(
                units,
                num_channel_groups=num_channel_groups,
                kernel_initializer=self.kernel_initializer,
                recurrent_initializer=self.recurrent_initializer,
                dtype=self.dtype_policy,
                name=direction,
            )
        self.forward_lstm = directions["forward"]
        self.backward_lstm = directions["backward"]

    def build(self, input_shape):
        self.forward_lstm.build(input_shape)
        self.backward_lstm.build(input_shape)

    def call(self, inputs, backward_inputs=None):
        # Two independent scans (rather than one over both directions): TF
        # may run them concurrently, and each step stays a few small ops.
        forward = self.forward_lstm(inputs)
        if backward_inputs is None:
            backward_inputs = inputs
        backward = ops.flip(
            self.backward_lstm(ops.flip(backward_inputs, axis=2)), axis=2
        )
        # Row r of the backward direction saw row r to the right of each
        # pixel; moved down a row, it only brings in rows above.
        backward = _shift_down(backward)
        return forward + backward
