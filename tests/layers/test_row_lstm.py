"""RowLSTM: receptive field, channel groups, the recurrence against NumPy,
row-by-row stepping, config and saving."""

import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf

from pixel_keras import layers
from pixel_keras.layers.masked_conv import channel_groups
from tests import helpers

HEIGHT, WIDTH = helpers.LSTM_HEIGHT, helpers.LSTM_WIDTH


def _inside(pixels):
    return {(r, c) for r, c in pixels if 0 <= r < HEIGHT and 0 <= c < WIDTH}


def _row_lstm_reference(layer, x):
    """Row LSTM forward pass, pixel by pixel, from the layer's weights."""
    kernel = helpers.masked_kernel(layer.input_to_state)[0]  # (k, Cin, 4u)
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
            h_row[:, c], c_row[:, c] = helpers.numpy_lstm_cell(gates, c_prev[:, c])
        hidden[:, r] = h_row
        h_prev, c_prev = h_row, c_row
    return hidden


# Receptive field and channel groups, exact, for every output position.


def test_row_lstm_receptive_field_is_the_triangle_above():
    layer = helpers.image_lstm("row", 3, 2)
    sets = helpers.pixel_dependency_sets(helpers.jacobian(layer, helpers.lstm_input(2)))
    for (r, c), seen in sets.items():
        expected = {(r, c - 1), (r, c)}
        for d in range(1, r + 1):
            expected |= {(r - d, j) for j in range(c - d - 1, c + d + 1)}
        assert seen == _inside(expected), (r, c)


@pytest.mark.parametrize("kind", ["row"])
@pytest.mark.parametrize("units", [4, 6])
def test_hidden_group_reads_only_earlier_or_own_groups_of_its_pixel(kind, units):
    channels = 5
    layer = helpers.image_lstm(kind, units, channels, groups=3)
    jac = helpers.jacobian(layer, helpers.lstm_input(channels))
    in_groups = channel_groups(channels, 3)
    unit_groups = channel_groups(units, 3)
    for r, c, d in itertools.product(range(HEIGHT), range(WIDTH), range(units)):
        own = jac[r, c, d, r, c]
        assert np.all(own[in_groups > unit_groups[d]] == 0.0), (r, c, d, own)
        assert np.all(own[in_groups <= unit_groups[d]] > 0.0), (r, c, d, own)


# The recurrence against a NumPy reference.


@pytest.mark.parametrize("kind", ["row"])
@pytest.mark.parametrize("units, groups", [(3, 1), (4, 3)])
def test_layer_matches_numpy_recurrence(kind, units, groups):
    layer = helpers.image_lstm(kind, units, 5, groups=groups, cell_bias=False)
    x = helpers.lstm_input(5, batch=2)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(layer(x)), _row_lstm_reference(layer, x), atol=1e-5
    )


def test_row_lstm_matches_numpy_recurrence_with_all_biases():
    layer = helpers.image_lstm("row", 4, 5, groups=3)
    x = helpers.lstm_input(5, batch=2)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(layer(x)), _row_lstm_reference(layer, x), atol=1e-5
    )


def test_row_lstm_kernel_five_matches_numpy_recurrence():
    layer = layers.RowLSTM(3, kernel_size=5)
    layer.build((None, HEIGHT, WIDTH, 2))
    helpers.randomize_weights(layer, seed=4)
    x = helpers.lstm_input(2, batch=2)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(layer(x)), _row_lstm_reference(layer, x), atol=1e-5
    )


def test_row_lstm_step_row_by_row_reproduces_the_layer():
    layer = helpers.image_lstm("row", 4, 5, groups=3)
    x = helpers.lstm_input(5, batch=2)
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


def test_config_round_trip(tmp_path):
    kwargs = {"units": 4, "kernel_size": 5, "num_channel_groups": 3}
    helpers.check_layer(
        layers.RowLSTM,
        dict(kwargs, recurrent_initializer="glorot_uniform", name="rnn"),
        helpers.lstm_input(5, batch=2),
        prepare=helpers.randomize_weights,
        expected_output_shape=(2, HEIGHT, WIDTH, 4),
        expected_config=kwargs,
        tmp_path=tmp_path,
    )


def test_keras_file_round_trip(tmp_path):
    # Random weights of scale 0.5, on 6 features of 3 channel groups.
    helpers.check_layer(
        layers.RowLSTM,
        dict(units=6, num_channel_groups=3),
        helpers.lstm_input(6, batch=2, seed=5),
        prepare=lambda layer: helpers.randomize_weights(layer, seed=5),
        tmp_path=tmp_path,
    )


@pytest.mark.parametrize("units", [0, -2, 2.5, True, "4"])
def test_bad_units_are_named(units):
    with pytest.raises(ValueError, match="units"):
        layers.RowLSTM(units)


@pytest.mark.parametrize("kernel_size", [0, 2, 4, -3, 3.0, True])
def test_bad_row_lstm_kernel_size_is_named(kernel_size):
    with pytest.raises(ValueError, match="kernel_size"):
        layers.RowLSTM(4, kernel_size=kernel_size)
