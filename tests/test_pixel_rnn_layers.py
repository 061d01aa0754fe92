"""Skewing, receptive fields, recurrences and configs of the PixelRNN layers."""

import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf

from pixel_keras import layers
from pixel_keras.layers.masked_conv import channel_groups

HEIGHT, WIDTH = 6, 7
LAYERS = {
    "row": lambda units, groups=1: layers.RowLSTM(units, num_channel_groups=groups),
    "diagonal": lambda units, groups=1: layers.DiagonalLSTM(
        units, num_channel_groups=groups
    ),
    "bidiagonal": lambda units, groups=1: layers.DiagonalBiLSTM(
        units, num_channel_groups=groups
    ),
}


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _lstm(gates, cell):
    """NumPy LSTM cell from pre-activations in i, f, o, g block order."""
    i, f, o, g = np.split(gates, 4, axis=-1)
    cell = _sigmoid(f) * cell + _sigmoid(i) * np.tanh(g)
    return _sigmoid(o) * np.tanh(cell), cell


def _randomize(layer, scale=0.5, seed=0, cell_bias=True):
    """Random normal weights; `cell_bias=False` zeroes the g-gate biases."""
    rng = np.random.default_rng(seed)
    for weight in layer.weights:
        values = rng.normal(scale=scale, size=weight.shape)
        if not cell_bias and weight.path.endswith("bias"):
            values[3 * (weight.shape[0] // 4) :] = 0.0
        weight.assign(values)


def _built(kind, units, channels, groups=1, **randomize):
    layer = LAYERS[kind](units, groups)
    layer.build((None, HEIGHT, WIDTH, channels))
    _randomize(layer, **randomize)
    return layer


def _masked_kernel(conv):
    return keras.ops.convert_to_numpy(conv.kernel) * keras.ops.convert_to_numpy(conv.mask)


def _jacobian(fn, x):
    """|d fn(x)[r, c, d] / d x[r', c', k]| as `(H, W, D, H, W, Cin)`.

    One backward pass: batch element n is a copy of `x` whose cotangent is the
    one-hot of output `(r, c, d)` number n (batch elements are independent).
    """
    x = np.asarray(x, np.float32)
    height, width, _ = x.shape
    depth = fn(x[None]).shape[-1]
    count = height * width * depth
    inputs = tf.convert_to_tensor(np.repeat(x[None], count, axis=0))
    onehot = np.eye(count, dtype=np.float32).reshape(count, height, width, depth)
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        outputs = fn(inputs)
    gradient = tape.gradient(outputs, inputs, output_gradients=tf.constant(onehot))
    return np.abs(gradient.numpy()).reshape(height, width, depth, height, width, -1)


def _image(channels, batch=None, seed=0):
    shape = (HEIGHT, WIDTH, channels) if batch is None else (batch, HEIGHT, WIDTH, channels)
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


# Skewing.


@pytest.mark.parametrize(
    "shape", [(1, 1, 1, 1), (1, 4, 4, 2), (3, 6, 7, 1), (2, 7, 3, 4), (2, 2, 9, 3)]
)
def test_skew_moves_row_r_right_by_r_and_unskew_inverts_it(shape):
    x = np.random.default_rng(0).normal(size=shape).astype("float32")
    skewed = keras.ops.convert_to_numpy(layers.skew(x))
    batch, height, width, channels = shape
    expected = np.zeros((batch, height, width + height - 1, channels), np.float32)
    for r, c in itertools.product(range(height), range(width)):
        expected[:, r, r + c] = x[:, r, c]
    np.testing.assert_array_equal(skewed, expected)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layers.unskew(skewed)), x)


# Receptive fields, exact, for every output position.


def _dependency_sets(jac):
    """`(r, c) -> set of input pixels` that output pixel `(r, c)` reads."""
    sets = {}
    for r, c in itertools.product(range(HEIGHT), range(WIDTH)):
        rows, cols = np.nonzero(jac[r, c].sum(axis=(0, 3)))
        sets[(r, c)] = set(zip(rows.tolist(), cols.tolist()))
    return sets


def _inside(pixels):
    return {(r, c) for r, c in pixels if 0 <= r < HEIGHT and 0 <= c < WIDTH}


def test_row_lstm_receptive_field_is_the_triangle_above():
    layer = _built("row", 3, 2)
    sets = _dependency_sets(_jacobian(layer, _image(2)))
    for (r, c), seen in sets.items():
        expected = {(r, c - 1), (r, c)}
        for d in range(1, r + 1):
            expected |= {(r - d, j) for j in range(c - d - 1, c + d + 1)}
        assert seen == _inside(expected), (r, c)


def test_diagonal_lstm_receptive_field_is_the_quadrant_above_left():
    layer = _built("diagonal", 3, 2)
    sets = _dependency_sets(_jacobian(layer, _image(2)))
    for (r, c), seen in sets.items():
        expected = set(itertools.product(range(r + 1), range(c + 1)))
        assert seen == expected, (r, c)


def test_diagonal_bilstm_receptive_field_is_everything_before_in_raster_order():
    layer = _built("bidiagonal", 3, 2)
    sets = _dependency_sets(_jacobian(layer, _image(2)))
    for (r, c), seen in sets.items():
        expected = set(itertools.product(range(r), range(WIDTH)))
        expected |= {(r, j) for j in range(c + 1)}
        assert seen == expected, (r, c)


@pytest.mark.parametrize("kind", sorted(LAYERS))
@pytest.mark.parametrize("units", [4, 6])
def test_hidden_group_reads_only_earlier_or_own_groups_of_its_pixel(kind, units):
    channels = 5
    layer = _built(kind, units, channels, groups=3)
    jac = _jacobian(layer, _image(channels))
    in_groups = channel_groups(channels, 3)
    unit_groups = channel_groups(units, 3)
    for r, c, d in itertools.product(range(HEIGHT), range(WIDTH), range(units)):
        own = jac[r, c, d, r, c]
        assert np.all(own[in_groups > unit_groups[d]] == 0.0), (r, c, d, own)
        assert np.all(own[in_groups <= unit_groups[d]] > 0.0), (r, c, d, own)


# The recurrences against NumPy references.


def _row_lstm_reference(layer, x):
    """Row LSTM forward pass, pixel by pixel, from the layer's weights."""
    kernel = _masked_kernel(layer.input_to_state)[0]  # (k, Cin, 4u)
    state_kernel = layer.state_kernel.numpy()
    bias = layer.bias.numpy()
    units, k = layer.units, layer.kernel_size
    half = k // 2
    batch, height, width, _ = x.shape
    hidden = np.zeros((batch, height, width, units))
    h_prev = np.zeros((batch, width, units))
    c_prev = np.zeros((batch, width, units))
    for r in range(height):
        h_row = np.zeros_like(h_prev)
        c_row = np.zeros_like(c_prev)
        for c in range(width):
            gates = bias.astype(np.float64).copy()
            gates = np.tile(gates, (batch, 1))
            for tap in range(k):
                j = c + tap - half
                if 0 <= j < width:
                    gates = gates + x[:, r, j] @ kernel[tap]
                    gates = gates + h_prev[:, j] @ state_kernel[tap * units : (tap + 1) * units]
            h_row[:, c], c_row[:, c] = _lstm(gates, c_prev[:, c])
        hidden[:, r] = h_row
        h_prev, c_prev = h_row, c_row
    return hidden


def _diagonal_lstm_reference(lstm, x):
    """Diagonal LSTM, pixel by pixel in raster order: (r-1, c) and (r, c-1)
    are done before (r, c); states outside the image are zero."""
    kernel = _masked_kernel(lstm.input_to_state)[0, 0]  # (Cin, 4u)
    state_kernel = lstm.state_kernel.numpy()
    bias = lstm.bias.numpy()
    units = lstm.units
    batch, height, width, _ = x.shape
    hidden = np.zeros((batch, height, width, units))
    cell = np.zeros((batch, height, width, units))
    zeros = np.zeros((batch, units))
    for r, c in itertools.product(range(height), range(width)):
        above = hidden[:, r - 1, c] if r > 0 else zeros
        left = hidden[:, r, c - 1] if c > 0 else zeros
        left_cell = cell[:, r, c - 1] if c > 0 else zeros
        gates = (
            x[:, r, c] @ kernel
            + above @ state_kernel[:units]
            + left @ state_kernel[units:]
            + bias
        )
        hidden[:, r, c], cell[:, r, c] = _lstm(gates, left_cell)
    return hidden


def _diagonal_bilstm_reference(layer, x):
    forward = _diagonal_lstm_reference(layer.forward_lstm, x)
    backward = _diagonal_lstm_reference(layer.backward_lstm, x[:, :, ::-1])[:, :, ::-1]
    shifted = np.zeros_like(backward)
    shifted[:, 1:] = backward[:, :-1]
    return forward + shifted


REFERENCES = {
    "row": _row_lstm_reference,
    "diagonal": _diagonal_lstm_reference,
    "bidiagonal": _diagonal_bilstm_reference,
}


@pytest.mark.parametrize("kind", sorted(REFERENCES))
@pytest.mark.parametrize("units, groups", [(3, 1), (4, 3)])
def test_layer_matches_numpy_recurrence(kind, units, groups):
    # Zero g-gate biases: the skew padding of the diagonal layers then holds
    # zero states, as the reference's outside-the-image states are.
    layer = _built(kind, units, 5, groups=groups, cell_bias=False)
    x = _image(5, batch=2)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(layer(x)), REFERENCES[kind](layer, x), atol=1e-5
    )


def test_row_lstm_matches_numpy_recurrence_with_all_biases():
    layer = _built("row", 4, 5, groups=3)
    x = _image(5, batch=2)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(layer(x)), _row_lstm_reference(layer, x), atol=1e-5
    )


def test_row_lstm_kernel_five_matches_numpy_recurrence():
    layer = layers.RowLSTM(3, kernel_size=5)
    layer.build((None, HEIGHT, WIDTH, 2))
    _randomize(layer, seed=4)
    x = _image(2, batch=2)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(layer(x)), _row_lstm_reference(layer, x), atol=1e-5
    )


@pytest.mark.parametrize("kind", ["diagonal", "bidiagonal"])
def test_diagonal_layers_match_numpy_recurrence_with_all_biases(kind):
    layer = _built(kind, 3, 2)
    x = _image(2, batch=2)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(layer(x)), REFERENCES[kind](layer, x), atol=1e-5
    )


def test_row_lstm_step_row_by_row_reproduces_the_layer():
    layer = _built("row", 4, 5, groups=3)
    x = _image(5, batch=2)
    gates = layer.input_to_state(x)
    hidden = cell = tf.zeros((2, WIDTH, 4))
    rows = []
    for r in range(HEIGHT):
        output, (hidden, cell) = layer.step(gates[:, r], [hidden, cell])
        rows.append(keras.ops.convert_to_numpy(output))
    np.testing.assert_allclose(
        np.stack(rows, axis=1), keras.ops.convert_to_numpy(layer(x)), atol=1e-6
    )


# Configs, saving and arguments.


@pytest.mark.parametrize(
    "layer_class, kwargs",
    [
        (layers.RowLSTM, {"units": 4, "kernel_size": 5, "num_channel_groups": 3}),
        (layers.DiagonalLSTM, {"units": 4, "num_channel_groups": 3}),
        (layers.DiagonalBiLSTM, {"units": 4, "num_channel_groups": 3}),
    ],
)
def test_config_round_trip(layer_class, kwargs):
    layer = layer_class(**kwargs, recurrent_initializer="glorot_uniform", name="rnn")
    x = _image(5, batch=2)
    layer.build(x.shape)
    _randomize(layer)
    expected = keras.ops.convert_to_numpy(layer(x))
    config = layer.get_config()
    for key, value in kwargs.items():
        assert config[key] == value
    clone = layer_class.from_config(config)
    assert clone.get_config() == config
    clone.build(x.shape)
    clone.set_weights(layer.get_weights())
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(clone(x)), expected)
    revived = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(layer)
    )
    assert type(revived) is layer_class


@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_keras_file_round_trip(kind, tmp_path):
    inputs = keras.Input((HEIGHT, WIDTH, 3))
    features = layers.MaskedConv2D(6, 3, mask_type="A", num_channel_groups=3)(inputs)
    outputs = LAYERS[kind](6, 3)(features)
    model = keras.Model(inputs, outputs)
    rng = np.random.default_rng(5)
    model.set_weights([rng.normal(scale=0.5, size=w.shape) for w in model.get_weights()])
    x = _image(3, batch=2)
    expected = keras.ops.convert_to_numpy(model(x))
    path = tmp_path / f"{kind}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded.layers[-1]) is type(model.layers[-1])
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(loaded(x)), expected)


@pytest.mark.parametrize(
    "layer_class", [layers.RowLSTM, layers.DiagonalLSTM, layers.DiagonalBiLSTM]
)
@pytest.mark.parametrize("units", [0, -2, 2.5, True, "4"])
def test_bad_units_are_named(layer_class, units):
    with pytest.raises(ValueError, match="units"):
        layer_class(units)


@pytest.mark.parametrize("kernel_size", [0, 2, 4, -3, 3.0, True])
def test_bad_row_lstm_kernel_size_is_named(kernel_size):
    with pytest.raises(ValueError, match="kernel_size"):
        layers.RowLSTM(4, kernel_size=kernel_size)
