"""The Row LSTM of the PixelRNN paper."""

import keras
import tensorflow as tf
from keras import ops

from pixel_keras.layers.image_lstm import ImageLSTM
from pixel_keras.layers.lstm_gates import gate_bias_initializer
from pixel_keras.layers.lstm_gates import lstm_update


@keras.saving.register_keras_serializable(package="pixel_keras")
class RowLSTM(ImageLSTM):
    """LSTM that processes an image one row at a time, top to bottom.

    All pixels of a row are updated in parallel. The input-to-state part is a
    `1 x k` mask-B convolution along the row (pixel `(r, c)` reads `(r, c-1)`
    and, within its channel group, `(r, c)`), computed for the whole map at
    once. The state-to-state part is a `1 x k` convolution over the previous
    row's hidden state (`(r-1, c-k//2 .. c+k//2)`), so the receptive field is
    a triangle above the pixel plus the pixels to its left in the input row.

    Args:
        units: int, hidden units h (the output channels).
        kernel_size: odd int k, the width of both row convolutions (3 in the
            paper).
        num_channel_groups: int, the image's colour channels C; the input
            map, the gates and the hidden state keep the R -> G -> B order.
        kernel_initializer: initializer of the input-to-state kernel.
        recurrent_initializer: initializer of the state-to-state kernel.
        **kwargs: base `keras.layers.Layer` arguments.

    Call arguments:
        inputs: `(batch, height, width, channels)` features whose pixel
            `(r, c)` holds only what pixel `(r, c)` may see (the output of a
            mask-A or mask-B layer).

    Output shape:
        `(batch, height, width, units)`.

    Example:

    >>> layer = RowLSTM(16)
    >>> layer(keras.ops.ones((2, 8, 8, 32))).shape
    (2, 8, 8, 16)

    Reference:
        van den Oord, Kalchbrenner, Kavukcuoglu. Pixel Recurrent Neural
        Networks. ICML 2016. https://arxiv.org/abs/1601.06759
    """

    def __init__(
        self,
        units,
        kernel_size=3,
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
        if (
            isinstance(kernel_size, bool)
            or not isinstance(kernel_size, int)
            or kernel_size < 1
            or kernel_size % 2 != 1
        ):
            raise ValueError(
                f"Expected an odd positive int `kernel_size`. Received: "
                f"kernel_size={kernel_size!r}"
            )
        self.kernel_size = kernel_size
        self.input_to_state = self._input_to_state((1, kernel_size))

    def build(self, input_shape):
        self.input_to_state.build(input_shape)
        # The k taps of the previous row, stacked: (k * units, 4 * units).
        self.state_kernel = self.add_weight(
            name="state_kernel",
            shape=(self.kernel_size * self.units, 4 * self.units),
            initializer=self.recurrent_initializer,
        )
        self.bias = self.add_weight(
            name="bias", shape=(4 * self.units,), initializer=gate_bias_initializer(self.units)
        )

    def state_to_state(self, hidden):
        """Gate pre-activations from the previous row, `(B, W, units)` in."""
        half = self.kernel_size // 2
        padded = ops.pad(hidden, [[0, 0], [half, half], [0, 0]])
        width = ops.shape(hidden)[1]
        # `slice`, whose gradient is one pad, not a strided slice, whose
        # gradient fills a zero tensor of the whole input at every row.
        taps = [
            ops.slice(padded, [0, tap, 0], [-1, width, -1])
            for tap in range(self.kernel_size)
        ]
        taps = ops.concatenate(taps, axis=-1)
        # A 2-D matmul: one GEMM instead of a batch of small ones.
        recurrent = ops.matmul(
            ops.reshape(taps, (-1, self.kernel_size * self.units)), self.state_kernel
        )
        return ops.reshape(recurrent, (*ops.shape(hidden)[:-1], 4 * self.units))

    def step(self, row_gates, states):
        """One row: `(row_gates (B, W, 4u), [h, c]) -> (h, [h, c])`.

        `row_gates` is the row's input-to-state output (`input_to_state`
        applied to the row); this is the cell of the recurrence, which a
        sampler can call row by row.
        """
        return self._biased_step(row_gates + self.bias, states)

    def _biased_step(self, row_gates, states):
        hidden, cell = states
        hidden, cell = lstm_update(row_gates + self.state_to_state(hidden), cell)
        return hidden, [hidden, cell]

    def call(self, inputs):
        # The bias joins the input-to-state gates once, for the whole map.
        gates = self.input_to_state(inputs) + self.bias
        # Rows first, so that the scan steps over them.
        gates = ops.transpose(gates, (1, 0, 2, 3))
        zeros = ops.zeros_like(gates[0, ..., : self.units])

        def scan_step(states, row_gates):
            _, states = self._biased_step(row_gates, states)
            return states

        hidden, _ = tf.scan(scan_step, gates, initializer=[zeros, zeros])
        return ops.transpose(hidden, (1, 0, 2, 3))

    def get_config(self):
        config = super().get_config()
        config["kernel_size"] = self.kernel_size
        return config
