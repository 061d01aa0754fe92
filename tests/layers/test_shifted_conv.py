"""Causal footprints and configs of the shifted convolutions."""

import itertools

import keras
import numpy as np
import pytest

from pixel_keras import layers
from tests import helpers

SIZE = 8


def _footprints(layer, stride_down=1, stride_up=1):
    x = np.random.default_rng(0).normal(size=(1, SIZE, SIZE, 3))
    out_size = SIZE * stride_up // stride_down
    positions = list(itertools.product(range(out_size), repeat=2))
    return helpers.input_gradient_maps(layer, x, positions)


def test_down_shifted_sees_rows_at_and_above_centred():
    maps = _footprints(layers.DownShiftedConv2D(4, (2, 3)))
    for (r, c), grad in maps.items():
        rows, cols = np.nonzero(grad)
        assert rows.max() == r and rows.min() == max(r - 1, 0)
        assert set(cols) == {j for j in (c - 1, c, c + 1) if 0 <= j < SIZE}


def test_down_right_shifted_sees_above_and_left():
    maps = _footprints(layers.DownRightShiftedConv2D(4, (2, 2)))
    for (r, c), grad in maps.items():
        rows, cols = np.nonzero(grad)
        assert rows.max() == r and cols.max() == c
        assert rows.min() == max(r - 1, 0) and cols.min() == max(c - 1, 0)


@pytest.mark.parametrize(
    "layer_class, kernel",
    [(layers.DownShiftedConv2D, (2, 3)), (layers.DownRightShiftedConv2D, (2, 2))],
)
def test_strided_convolution_keeps_footprint(layer_class, kernel):
    maps = _footprints(layer_class(4, kernel, strides=2), stride_down=2)
    for (r, c), grad in maps.items():
        rows, cols = np.nonzero(grad)
        # Output (r, c) sits at input (2r, 2c): never a row below it, and for
        # down-right never a column right of it.
        assert rows.max() <= 2 * r
        if layer_class is layers.DownRightShiftedConv2D:
            assert cols.max() <= 2 * c


@pytest.mark.parametrize(
    "layer_class, kernel",
    [
        (layers.DownShiftedConv2DTranspose, (2, 3)),
        (layers.DownRightShiftedConv2DTranspose, (2, 2)),
    ],
)
def test_transposed_convolution_upsamples_causally(layer_class, kernel):
    x = np.random.default_rng(0).normal(size=(1, 4, 4, 3))
    layer = layer_class(4, kernel, strides=2)
    assert layer(x).shape == (1, 8, 8, 4)
    maps = helpers.input_gradient_maps(layer, x, itertools.product(range(8), repeat=2))
    for (r, c), grad in maps.items():
        rows, cols = np.nonzero(grad)
        assert rows.size > 0, f"output ({r}, {c}) reads nothing"
        assert rows.max() <= r // 2
        if layer_class is layers.DownRightShiftedConv2DTranspose:
            assert cols.max() <= c // 2


def test_down_and_right_shift():
    x = np.arange(16, dtype="float32").reshape(1, 4, 4, 1)
    down = keras.ops.convert_to_numpy(layers.down_shift(x))
    right = keras.ops.convert_to_numpy(layers.right_shift(x))
    np.testing.assert_array_equal(down[0, 0], 0)
    np.testing.assert_array_equal(down[0, 1:], x[0, :-1])
    np.testing.assert_array_equal(right[0, :, 0], 0)
    np.testing.assert_array_equal(right[0, :, 1:], x[0, :, :-1])


@pytest.mark.parametrize("weight_norm", [False, True])
@pytest.mark.parametrize(
    "layer_class",
    [
        layers.DownShiftedConv2D,
        layers.DownRightShiftedConv2D,
        layers.DownShiftedConv2DTranspose,
        layers.DownRightShiftedConv2DTranspose,
    ],
)
def test_config_round_trip_and_serialization(layer_class, weight_norm, tmp_path):
    x = np.random.default_rng(1).normal(size=(2, 4, 4, 3)).astype("float32")
    checked = helpers.check_layer(
        layer_class,
        dict(filters=5, strides=2, weight_norm=weight_norm, name="conv"),
        x,
        # v, bias (, g)
        expected_num_weights=3 if weight_norm else 2,
        expected_config={"weight_norm": weight_norm},
        tmp_path=tmp_path,
    )
    assert checked.revived.weight_norm is weight_norm
    assert checked.loaded.weight_norm is weight_norm


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="padding"):
        layers.DownShiftedConv2D(4, padding="same")
    with pytest.raises(ValueError, match="odd"):
        layers.DownShiftedConv2D(4, (2, 2))
    with pytest.raises(ValueError, match="kernel_size"):
        layers.DownRightShiftedConv2DTranspose(4, (1, 1), strides=2)
