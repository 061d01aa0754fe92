"""NumPy references of the image LSTMs."""

import itertools

import keras
import numpy as np

from pixel_keras import layers

def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def numpy_lstm_cell(gates, cell):
    """NumPy LSTM cell from pre-activations in i, f, o, g block order."""
    i, f, o, g = np.split(gates, 4, axis=-1)
    cell = sigmoid(f) * cell + sigmoid(i) * np.tanh(g)
    return sigmoid(o) * np.tanh(cell), cell


def randomize_weights(layer, scale=0.5, seed=0, cell_bias=True):
    """Random normal weights; `cell_bias=False` zeroes the g-gate biases of
    an image LSTM (the last quarter of each bias)."""
    rng = np.random.default_rng(seed)
    for weight in layer.weights:
        values = rng.normal(scale=scale, size=weight.shape)
        if not cell_bias and weight.path.endswith("bias"):
            values[3 * (weight.shape[0] // 4) :] = 0.0
        weight.assign(values)


# The map size of the image LSTM layer tests.
LSTM_HEIGHT, LSTM_WIDTH = 6, 7


def image_lstm(kind, units, channels, groups=1, **randomize):
    """A built `RowLSTM` (`"row"`), `DiagonalLSTM` (`"diagonal"`) or
    `DiagonalBiLSTM` (`"bidiagonal"`) on `LSTM_HEIGHT x LSTM_WIDTH` maps of
    `channels`, with `randomize_weights(**randomize)`."""
    layer_class = {
        "row": layers.RowLSTM,
        "diagonal": layers.DiagonalLSTM,
        "bidiagonal": layers.DiagonalBiLSTM,
    }[kind]
    layer = layer_class(units, num_channel_groups=groups)
    layer.build((None, LSTM_HEIGHT, LSTM_WIDTH, channels))
    randomize_weights(layer, **randomize)
    return layer


def lstm_input(channels, batch=None, seed=0):
    """A random `LSTM_HEIGHT x LSTM_WIDTH` map (with a batch axis if `batch`)."""
    shape = (LSTM_HEIGHT, LSTM_WIDTH, channels)
    if batch is not None:
        shape = (batch, *shape)
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def pixel_dependency_sets(jac):
    """`(r, c) -> set of input pixels` that output pixel `(r, c)` reads, from
    a `jacobian`."""
    height, width = jac.shape[:2]
    sets = {}
    for r, c in itertools.product(range(height), range(width)):
        rows, cols = np.nonzero(jac[r, c].sum(axis=(0, 3)))
        sets[(r, c)] = set(zip(rows.tolist(), cols.tolist()))
    return sets


def masked_kernel(conv):
    """A `MaskedConv2D`'s kernel with its mask applied, as NumPy."""
    return keras.ops.convert_to_numpy(conv.kernel) * keras.ops.convert_to_numpy(conv.mask)
