"""The Gated PixelCNN's stack convolutions: exact footprints (by gradients,
on non-square maps), the channel mask of the horizontal one, configs."""

import itertools

import numpy as np
import pytest

from pixel_keras import layers
from pixel_keras.layers.masked_conv import channel_groups
from tests import helpers

HEIGHT, WIDTH = 5, 7


def _vertical_footprint(size, mask_type):
    """`[r, c, r', c']`: output `(r, c)` reads input `(r', c')`."""
    half = size // 2
    footprint = np.zeros((HEIGHT, WIDTH, HEIGHT, WIDTH), bool)
    for r, c in itertools.product(range(HEIGHT), range(WIDTH)):
        # "A": rows r - ceil(n/2) .. r - 1; "B": rows r - n//2 .. r.
        last = r - 1 if mask_type == "A" else r
        rows = range(max(last - half, 0), last + 1)
        for rr in rows:
            footprint[r, c, rr, max(c - half, 0) : c + half + 1] = True
    return footprint


@pytest.mark.parametrize("size, mask_type", [(3, "A"), (3, "B"), (5, "A"), (5, "B"), (1, "A")])
def test_vertical_footprint_is_the_rows_above(size, mask_type):
    layer = layers.VerticalStackConv2D(4, size, mask_type=mask_type)
    x = np.random.default_rng(0).normal(size=(HEIGHT, WIDTH, 2))
    seen = helpers.jacobian(layer, x).sum(axis=(2, 5)) > 0
    np.testing.assert_array_equal(seen, _vertical_footprint(size, mask_type))
    assert layer.kernel.shape == (size // 2 + 1, size, 2, 4)


@pytest.mark.parametrize("size", [3, 5])
@pytest.mark.parametrize("mask_type", ["A", "B"])
def test_horizontal_footprint_is_the_row_up_to_the_pixel_in_channel_order(size, mask_type):
    channels_in, channels_out, groups = 6, 9, 3
    layer = layers.HorizontalStackConv2D(
        channels_out, size, mask_type=mask_type, num_channel_groups=groups
    )
    x = np.random.default_rng(1).normal(size=(HEIGHT, WIDTH, channels_in))
    seen = helpers.jacobian(layer, x) > 0  # (H, W, out, H, W, in)
    input_groups = channel_groups(channels_in, groups)
    output_groups = channel_groups(channels_out, groups)
    half = size // 2
    for r, c, o in itertools.product(range(HEIGHT), range(WIDTH), range(channels_out)):
        expected = np.zeros((HEIGHT, WIDTH, channels_in), bool)
        expected[r, max(c - half, 0) : c] = True
        if mask_type == "A":
            expected[r, c] = input_groups < output_groups[o]
        else:
            expected[r, c] = input_groups <= output_groups[o]
        np.testing.assert_array_equal(seen[r, c, o], expected, err_msg=str((r, c, o)))
    assert layer.kernel.shape == (1, half + 1, channels_in, channels_out)


def test_horizontal_masked_weights_get_no_gradient():
    import tensorflow as tf

    layer = layers.HorizontalStackConv2D(6, 3, mask_type="A", num_channel_groups=3)
    x = tf.random.normal((2, HEIGHT, WIDTH, 3))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(x) ** 2)
    gradient = tape.gradient(loss, layer.kernel).numpy()
    mask = np.asarray(layer.mask)
    assert np.all(gradient[mask == 0] == 0) and np.all(gradient[mask == 1] != 0)


@pytest.mark.parametrize(
    "layer_class, init_kwargs, num_weights",
    [
        (layers.VerticalStackConv2D, dict(filters=4, kernel_size=5, mask_type="A"), 2),
        (layers.VerticalStackConv2D, dict(filters=4, kernel_size=3, use_bias=False), 1),
        (
            layers.HorizontalStackConv2D,
            dict(filters=6, kernel_size=3, mask_type="A", num_channel_groups=3, output_blocks=2),
            2,
        ),
    ],
)
def test_config_and_saving_round_trip(layer_class, init_kwargs, num_weights, tmp_path):
    x = np.random.default_rng(2).normal(size=(2, HEIGHT, WIDTH, 3)).astype("float32")
    checked = helpers.check_layer(
        layer_class,
        dict(init_kwargs, name="stack_conv"),
        x,
        prepare=lambda layer: helpers.perturb_weights(layer, 0.3),
        expected_output_shape=(2, HEIGHT, WIDTH, init_kwargs["filters"]),
        expected_num_weights=num_weights,
        expected_config={"kernel_size": init_kwargs["kernel_size"]},
        tmp_path=tmp_path,
    )
    assert checked.loaded.kernel_size == checked.layer.kernel_size


@pytest.mark.parametrize(
    "layer_class, kwargs, match",
    [
        (layers.VerticalStackConv2D, dict(kernel_size=4), "kernel_size"),
        (layers.VerticalStackConv2D, dict(kernel_size=(3, 3)), "kernel_size"),
        (layers.VerticalStackConv2D, dict(kernel_size=3, mask_type="C"), "mask_type"),
        (layers.VerticalStackConv2D, dict(kernel_size=3, padding="same"), "padding"),
        (layers.VerticalStackConv2D, dict(kernel_size=3, strides=2), "strides"),
        (
            layers.HorizontalStackConv2D,
            dict(kernel_size=3, num_channel_groups=0),
            "num_channel_groups",
        ),
        (layers.HorizontalStackConv2D, dict(kernel_size=3, output_blocks=3), "output_blocks"),
    ],
)
def test_bad_arguments_are_named(layer_class, kwargs, match):
    with pytest.raises(ValueError, match=match):
        layer_class(4, **kwargs)


def test_horizontal_needs_a_channel_per_group():
    layer = layers.HorizontalStackConv2D(6, 3, num_channel_groups=3)
    with pytest.raises(ValueError, match="3 channel groups"):
        layer(np.zeros((1, 4, 4, 2), "float32"))
