"""The LSTM gate arithmetic the image LSTMs (and their cached samplers)
share: the update from pre-activation gates and the gate bias initializer."""

import numpy as np
from keras import ops

# Gate blocks in the order the layers lay out their 4 * units channels.
GATES = ("input", "forget", "output", "cell")


def lstm_update(gates, cell, sigmoid_once=False):
    """One LSTM step from pre-activation gates.

    Args:
        gates: `(..., 4 * units)` pre-activations, blocks in `GATES` order.
        cell: `(..., units)` previous cell state.
        sigmoid_once: bool, one sigmoid over the input, forget and output
            gates together (cut from the cell gate first, split after)
            instead of one per gate. The arithmetic is the same (values
            agree to an ulp: TensorFlow's sigmoid computes the elements
            past a tensor's last full vector register by another path);
            what differs is the graph. In an XLA-compiled sampling loop,
            which is bound by its count of kernels, one sigmoid is faster
            (the cached samplers pass True: per gate, the Diagonal
            BiLSTM's 32x32x3 batch of 16 took 1.18x as long, the Row
            LSTM's the same); in a train step's graph, one
            four-way split moves less data and its gradient is one
            concatenation (per gate, the Row LSTM's and the Diagonal
            BiLSTM's train steps are 3% and 11% faster).

    Returns:
        `(hidden, cell)`: i, f, o through a sigmoid, g through a tanh,
        `c = f * c_prev + i * g` and `h = o * tanh(c)`.
    """
    # Splits, not slices: a strided slice's gradient is a zero tensor of the
    # whole input with the slice written in; a split's is one concatenation.
    if sigmoid_once:
        units = ops.shape(gates)[-1] // 4
        sigmoid_gates, g = ops.split(gates, [3 * units], axis=-1)
        i, f, o = ops.split(ops.sigmoid(sigmoid_gates), 3, axis=-1)
    else:
        i, f, o, g = ops.split(gates, 4, axis=-1)
        i, f, o = ops.sigmoid(i), ops.sigmoid(f), ops.sigmoid(o)
    cell = f * cell + i * ops.tanh(g)
    return o * ops.tanh(cell), cell


def gate_bias_initializer(units):
    """Initial gate biases: 1 for the forget gate, so that early on the cell
    keeps its state (Jozefowicz et al., 2015), 0 elsewhere."""

    def initializer(shape, dtype=None):
        values = np.zeros(shape, np.float32)
        values[..., units : 2 * units] = 1.0
        return ops.convert_to_tensor(values, dtype=dtype)

    return initializer
