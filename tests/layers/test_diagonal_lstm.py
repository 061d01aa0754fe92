"""Skewing, DiagonalLSTM and DiagonalBiLSTM: receptive fields, channel
groups, the recurrences against NumPy, config and saving."""

import itertools

import keras
import numpy as np
import pytest

from pixel_keras import layers
from pixel_keras.layers.masked_conv import channel_groups
from tests import helpers

HEIGHT, WIDTH = helpers.LSTM_HEIGHT, helpers.LSTM_WIDTH
KINDS = ("bidiagonal", "diagonal")
LAYER_CLASSES = {"diagonal": layers.DiagonalLSTM, "bidiagonal": layers.DiagonalBiLSTM}


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


# Receptive fields and channel groups, exact, for every output position.


def test_diagonal_lstm_receptive_field_is_the_quadrant_above_left():
    layer = helpers.image_lstm("diagonal", 3, 2)
    sets = helpers.pixel_dependency_sets(helpers.jacobian(layer, helpers.lstm_input(2)))
    for (r, c), seen in sets.items():
        expected = set(itertools.product(range(r + 1), range(c + 1)))
        assert seen == expected, (r, c)


def test_diagonal_bilstm_receptive_field_is_everything_before_in_raster_order():
    layer = helpers.image_lstm("bidiagonal", 3, 2)
    sets = helpers.pixel_dependency_sets(helpers.jacobian(layer, helpers.lstm_input(2)))
    for (r, c), seen in sets.items():
        expected = set(itertools.product(range(r), range(WIDTH)))
        expected |= {(r, j) for j in range(c + 1)}
        assert seen == expected, (r, c)


@pytest.mark.parametrize("kind", KINDS)
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


# The recurrences against NumPy references.


def _diagonal_lstm_reference(lstm, x):
    """Diagonal LSTM, pixel by pixel in raster order: (r-1, c) and (r, c-1)
    are done before (r, c); states outside the image are zero."""
    kernel = helpers.masked_kernel(lstm.input_to_state)[0, 0]  # (Cin, 4u)
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
        hidden[:, r, c], cell[:, r, c] = helpers.numpy_lstm_cell(gates, left_cell)
    return hidden


def _diagonal_bilstm_reference(layer, x):
    forward = _diagonal_lstm_reference(layer.forward_lstm, x)
    backward = _diagonal_lstm_reference(layer.backward_lstm, x[:, :, ::-1])[:, :, ::-1]
    shifted = np.zeros_like(backward)
    shifted[:, 1:] = backward[:, :-1]
    return forward + shifted


REFERENCES = {
    "diagonal": _diagonal_lstm_reference,
    "bidiagonal": _diagonal_bilstm_reference,
}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("units, groups", [(3, 1), (4, 3)])
def test_layer_matches_numpy_recurrence(kind, units, groups):
    # Zero g-gate biases: the skew padding of the diagonal layers then holds
    # zero states, as the reference's outside-the-image states are.
    layer = helpers.image_lstm(kind, units, 5, groups=groups, cell_bias=False)
    x = helpers.lstm_input(5, batch=2)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(layer(x)), REFERENCES[kind](layer, x), atol=1e-5
    )


@pytest.mark.parametrize("kind", ["diagonal", "bidiagonal"])
def test_diagonal_layers_match_numpy_recurrence_with_all_biases(kind):
    layer = helpers.image_lstm(kind, 3, 2)
    x = helpers.lstm_input(2, batch=2)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(layer(x)), REFERENCES[kind](layer, x), atol=1e-5
    )


# Configs, saving and arguments.


@pytest.mark.parametrize("layer_class", [layers.DiagonalLSTM, layers.DiagonalBiLSTM])
def test_config_round_trip(layer_class, tmp_path):
    kwargs = {"units": 4, "num_channel_groups": 3}
    helpers.check_layer(
        layer_class,
        dict(kwargs, recurrent_initializer="glorot_uniform", name="rnn"),
        helpers.lstm_input(5, batch=2),
        prepare=helpers.randomize_weights,
        expected_output_shape=(2, HEIGHT, WIDTH, 4),
        expected_config=kwargs,
        tmp_path=tmp_path,
    )


@pytest.mark.parametrize("kind", KINDS)
def test_keras_file_round_trip(kind, tmp_path):
    # Random weights of scale 0.5, on 6 features of 3 channel groups.
    helpers.check_layer(
        LAYER_CLASSES[kind],
        dict(units=6, num_channel_groups=3),
        helpers.lstm_input(6, batch=2, seed=5),
        prepare=lambda layer: helpers.randomize_weights(layer, seed=5),
        tmp_path=tmp_path,
    )


@pytest.mark.parametrize("layer_class", [layers.DiagonalLSTM, layers.DiagonalBiLSTM])
@pytest.mark.parametrize("units", [0, -2, 2.5, True, "4"])
def test_bad_units_are_named(layer_class, units):
    with pytest.raises(ValueError, match="units"):
        layer_class(units)
