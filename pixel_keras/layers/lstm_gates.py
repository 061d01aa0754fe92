"""The LSTM gate arithmetic the image LSTMs (and their cached samplers)
share: the update from pre-activation gates and the gate bias initializer."""

import numpy as np
from keras import ops

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
    # Cut by a split, not by slices: a strided slice's gradient is a zero
    # tensor of the whole input with the slice written in, and a split's
    # gradient is one concatenation.
    sigmoid_gates, cell_gate = ops.split(gates, [3 * units], axis=-1)
    i, f, o = ops.split(ops.sigmoid(sigmoid_gates), 3, axis=-1)
    cell = f * cell + i * ops.tanh(cell_gate)
    return o * ops.tanh(cell), cell


def gate_bias_initializer(units):
    """Initial gate biases: 1 for the forget gate, so that early on the cell
    keeps its state (Jozefowicz et al., 2015), 0 elsewhere."""

    def initializer(shape, dtype=None):
        values = np.zeros(shape, np.float32)
        values[..., units : 2 * units] = 1.0
        return ops.convert_to_tensor(values, dtype=dtype)

    return initializer
