"""What the image LSTMs share: the gate update, the gate bias initializer,
and a base layer with their common arguments and config."""

import keras
import numpy as np
from keras import ops

from pixel_keras.layers.masked_conv import MaskedConv2D

# Gate blocks in the order the layers lay out their 4 * units channels.
GATES = ("input", "forget", "output", "cell")


def lstm_update(gates, cell):
    """One LSTM step from pre-activation gates.

    Args:
        gates: `(..., 4 * units)` pre-activations, blocks in `GATES` order.
        cell: `(..., units)` previous cell state.

    Returns:
        `(hidden, cell)`: i, f, o through a sigmoid, g through a tanh,
        `c = f * c_prev + i * g` and `h = o * tanh(c)`.
    """
    units = ops.shape(gates)[-1] // 4
    # One sigmoid over the three sigmoid gates: fewer, larger ops per step.
    i, f, o = ops.split(ops.sigmoid(gates[..., : 3 * units]), 3, axis=-1)
    cell = f * cell + i * ops.tanh(gates[..., 3 * units :])
    return o * ops.tanh(cell), cell


def gate_bias_initializer(units):
    """Initial gate biases: 1 for the forget gate, so that early on the cell
    keeps its state (Jozefowicz et al., 2015), 0 elsewhere."""

    def initializer(shape, dtype=None):
        values = np.zeros(shape, np.float32)
        values[..., units : 2 * units] = 1.0
        return ops.convert_to_tensor(values, dtype=dtype)

    return initializer


class ImageLSTM(keras.layers.Layer):
    """Base of `RowLSTM`, `DiagonalLSTM` and `DiagonalBiLSTM`.

    Holds the arguments they share, checks them, makes the masked
    input-to-state convolution of the four gates, and round-trips the
    config. The output has `units` channels at every pixel.
    """

    def __init__(
        self,
        units,
        num_channel_groups=1,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if isinstance(units, bool) or not isinstance(units, int) or units < 1:
            raise ValueError(f"Expected a positive int `units`. Received: units={units!r}")
        self.units = units
        self.num_channel_groups = num_channel_groups
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.recurrent_initializer = keras.initializers.get(recurrent_initializer)

    def _input_to_state(self, kernel_size):
        """A mask-B convolution to the 4 gates, each grouped by channel."""
        return MaskedConv2D(
            4 * self.units,
            kernel_size,
            mask_type="B",
            num_channel_groups=self.num_channel_groups,
            output_blocks=4,
            use_bias=False,
            kernel_initializer=self.kernel_initializer,
            name="input_to_state",
        )

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "num_channel_groups": self.num_channel_groups,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "recurrent_initializer": keras.initializers.serialize(
                    self.recurrent_initializer
                ),
            }
        )
        return config
