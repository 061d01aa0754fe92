"""Masks, causality, channel order and configs of the masked convolutions."""

import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf

from pixel_keras import layers
from pixel_keras.layers.masked_conv import causal_mask
from pixel_keras.layers.masked_conv import channel_groups
from tests import helpers

SIZE = 8


def _reference_groups(num_channels, num_groups, num_blocks=1):
    """Group of each channel: each block is cut into `num_groups` contiguous
    runs, group g owning the channels k with g <= k * C / block < g + 1."""
    block = num_channels // num_blocks
    groups = []
    for channel in range(num_channels):
        k = channel % block
        for g in range(num_groups):
            if g * block <= k * num_groups < (g + 1) * block:
                groups.append(g)
    assert len(groups) == num_channels
    return np.array(groups)


def _reference_mask(kernel_size, input_groups, output_groups, mask_type):
    """0/1 mask by explicit loops over every tap and channel pair."""
    height, width = kernel_size
    mask = np.zeros((height, width, len(input_groups), len(output_groups)))
    for i, j, k, o in itertools.product(
        range(height), range(width), range(len(input_groups)), range(len(output_groups))
    ):
        di, dj = i - height // 2, j - width // 2
        if di < 0 or (di == 0 and dj < 0):
            mask[i, j, k, o] = 1.0
        elif di == 0 and dj == 0:
            if mask_type == "A":
                mask[i, j, k, o] = float(input_groups[k] < output_groups[o])
            else:
                mask[i, j, k, o] = float(input_groups[k] <= output_groups[o])
    return mask


def _conv_reference(x, kernel, bias):
    """'same' cross-correlation of `(B, H, W, Cin)` with `(kh, kw, Cin, Cout)`."""
    kh, kw, _, cout = kernel.shape
    batch, height, width, _ = x.shape
    padded = np.pad(x, [(0, 0), (kh // 2, kh // 2), (kw // 2, kw // 2), (0, 0)])
    out = np.zeros((batch, height, width, cout))
    for r, c in itertools.product(range(height), range(width)):
        patch = padded[:, r : r + kh, c : c + kw, :]
        out[:, r, c] = np.einsum("bijk,ijko->bo", patch, kernel)
    return out + bias


def _random_image(channels, seed=0):
    return np.random.default_rng(seed).normal(size=(SIZE, SIZE, channels)).astype("float32")


@pytest.mark.parametrize("num_groups", [1, 2, 3])
@pytest.mark.parametrize("num_blocks", [1, 4])
def test_channel_groups_are_balanced_contiguous_runs(num_groups, num_blocks):
    for block in range(num_groups, 12):
        groups = channel_groups(block * num_blocks, num_groups, num_blocks)
        np.testing.assert_array_equal(
            groups, _reference_groups(block * num_blocks, num_groups, num_blocks)
        )
        for part in np.split(groups, num_blocks):
            np.testing.assert_array_equal(part, groups[:block])
            assert np.all(np.diff(part) >= 0), part
            sizes = np.bincount(part, minlength=num_groups)
            assert sizes.min() >= 1 and sizes.max() - sizes.min() <= 1, part


def test_channel_groups_examples():
    np.testing.assert_array_equal(channel_groups(3, 3), [0, 1, 2])
    np.testing.assert_array_equal(channel_groups(7, 3), [0, 0, 0, 1, 1, 2, 2])
    np.testing.assert_array_equal(channel_groups(5, 1), [0] * 5)
    np.testing.assert_array_equal(channel_groups(8, 3, 2), [0, 0, 1, 2] * 2)


@pytest.mark.parametrize("mask_type", ["A", "B"])
@pytest.mark.parametrize("kernel_size", [1, 3, 5, (1, 3), (3, 5)])
@pytest.mark.parametrize("num_groups", [1, 3])
def test_causal_mask_matches_loop_reference(mask_type, kernel_size, num_groups):
    kernel = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
    in_groups = _reference_groups(7, num_groups)
    out_groups = _reference_groups(20, num_groups, 4)
    mask = causal_mask(kernel, in_groups, out_groups, mask_type)
    assert mask.shape == (*kernel, 7, 20)
    np.testing.assert_array_equal(
        mask, _reference_mask(kernel, in_groups, out_groups, mask_type)
    )


@pytest.mark.parametrize("mask_type", ["A", "B"])
@pytest.mark.parametrize("kernel_size", [1, 3, 5, (1, 3), (3, 5)])
@pytest.mark.parametrize("num_groups", [1, 3])
@pytest.mark.parametrize("filters, output_blocks", [(5, 1), (20, 4)])
def test_layer_mask_matches_loop_reference(
    mask_type, kernel_size, num_groups, filters, output_blocks
):
    layer = layers.MaskedConv2D(
        filters,
        kernel_size,
        mask_type=mask_type,
        num_channel_groups=num_groups,
        output_blocks=output_blocks,
    )
    layer.build((None, SIZE, SIZE, 7))
    kernel = layer.kernel_size
    expected = _reference_mask(
        kernel,
        _reference_groups(7, num_groups),
        _reference_groups(filters, num_groups, output_blocks),
        mask_type,
    )
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer.mask), expected)


@pytest.mark.parametrize("kernel_size", [3, 5])
def test_mask_a_single_channel_reads_only_earlier_pixels(kernel_size):
    layer = layers.MaskedConv2D(4, kernel_size, mask_type="A")
    maps = helpers.input_gradient_maps(
        layer, _random_image(1)[None], itertools.product(range(SIZE), repeat=2)
    )
    helpers.assert_raster_causal(maps, SIZE)


@pytest.mark.parametrize("mask_type", ["A", "B"])
@pytest.mark.parametrize("num_groups", [1, 3])
@pytest.mark.parametrize("kernel_size", [3, (3, 5)])
def test_output_reads_no_later_pixel_and_only_allowed_groups(
    mask_type, num_groups, kernel_size
):
    layer = layers.MaskedConv2D(
        5, kernel_size, mask_type=mask_type, num_channel_groups=num_groups
    )
    jac = helpers.jacobian(layer, _random_image(7))
    in_groups = _reference_groups(7, num_groups)
    out_groups = _reference_groups(5, num_groups)
    for r, c, d in itertools.product(range(SIZE), range(SIZE), range(5)):
        grad = jac[r, c, d].reshape(SIZE * SIZE, 7)
        position = r * SIZE + c
        assert np.all(grad[position + 1 :] == 0.0), (r, c, d)
        if position > 0:
            assert grad[:position].sum() > 0.0, (r, c, d)
        own = grad[position]
        g = out_groups[d]
        allowed = in_groups < g if mask_type == "A" else in_groups <= g
        assert np.all(own[~allowed] == 0.0), (r, c, d, own)
        assert np.all(own[allowed] > 0.0), (r, c, d, own)


def test_rgb_mask_a_channel_order_at_own_pixel():
    """With the image itself as input: R sees nothing of its pixel, G sees R,
    B sees R and G."""
    layer = layers.MaskedConv2D(6, 3, mask_type="A", num_channel_groups=3)
    jac = helpers.jacobian(layer, _random_image(3))
    out_groups = channel_groups(6, 3)
    for r, c, d in itertools.product(range(SIZE), range(SIZE), range(6)):
        own = jac[r, c, d, r, c]
        g = out_groups[d]
        assert np.all(own[g:] == 0.0), (r, c, d, own)
        assert np.all(own[:g] > 0.0), (r, c, d, own)


def test_stack_a_then_b_then_b_keeps_the_a_property():
    stack = keras.Sequential(
        [
            layers.MaskedConv2D(7, 3, mask_type="A", num_channel_groups=3),
            layers.MaskedConv2D(5, 3, mask_type="B", num_channel_groups=3),
            layers.MaskedConv2D(6, 3, mask_type="B", num_channel_groups=3),
        ]
    )
    jac = helpers.jacobian(stack, _random_image(3))
    out_groups = channel_groups(6, 3)
    for r, c, d in itertools.product(range(SIZE), range(SIZE), range(6)):
        grad = jac[r, c, d].reshape(SIZE * SIZE, 3)
        position = r * SIZE + c
        assert np.all(grad[position + 1 :] == 0.0), (r, c, d)
        g = out_groups[d]
        assert np.all(grad[position, g:] == 0.0), (r, c, d, grad[position])
        assert np.all(grad[position, :g] > 0.0), (r, c, d, grad[position])
        if position > 0:
            assert grad[:position].sum() > 0.0
    # Three 3x3 layers reach three rows up and three columns either side.
    rows, cols = np.nonzero(jac[7, 4].sum(axis=(0, 3)))
    assert rows.min() == 4 and cols.min() == 1 and cols.max() == 7


@pytest.mark.parametrize("mask_type", ["A", "B"])
def test_excluded_weights_get_exactly_zero_gradient(mask_type):
    layer = layers.MaskedConv2D(
        20, 3, mask_type=mask_type, num_channel_groups=3, output_blocks=4
    )
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(size=(2, SIZE, SIZE, 7)), tf.float32)
    weights = tf.constant(rng.normal(size=(2, SIZE, SIZE, 20)), tf.float32)
    layer.build(x.shape)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(x) * weights)
    gradient = tape.gradient(loss, layer.kernel).numpy()
    mask = _reference_mask(
        (3, 3), _reference_groups(7, 3), _reference_groups(20, 3, 4), mask_type
    )
    assert np.all(gradient[mask == 0] == 0.0)
    assert np.all(gradient[mask == 1] != 0.0)


@pytest.mark.parametrize("mask_type", ["A", "B"])
@pytest.mark.parametrize("kernel_size", [3, (1, 3), (3, 5)])
def test_excluded_weights_never_act(mask_type, kernel_size):
    layer = layers.MaskedConv2D(
        5, kernel_size, mask_type=mask_type, num_channel_groups=3
    )
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, SIZE, SIZE, 7)).astype("float32")
    layer.build(x.shape)
    kernel = np.ones(layer.kernel.shape, np.float32)
    bias = rng.normal(size=5).astype("float32")
    layer.kernel.assign(kernel)
    layer.bias.assign(bias)
    mask = _reference_mask(
        layer.kernel_size, _reference_groups(7, 3), _reference_groups(5, 3), mask_type
    )
    outputs = keras.ops.convert_to_numpy(layer(x))
    np.testing.assert_allclose(outputs, _conv_reference(x, kernel * mask, bias), atol=1e-4)
    # The full kernel would give something else: the mask really acts.
    assert np.abs(outputs - _conv_reference(x, kernel, bias)).max() > 1.0
    # The kernel weight itself is left untouched by the mask.
    np.testing.assert_array_equal(layer.kernel.numpy(), kernel)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"mask_type": "C"}, "mask_type"),
        ({"kernel_size": 4}, "kernel_size"),
        ({"kernel_size": (3, 2)}, "kernel_size"),
        ({"strides": 2}, "strides"),
        ({"strides": (1, 2)}, "strides"),
        ({"padding": "valid"}, "padding"),
        ({"groups": 2}, "groups=2"),
        ({"dilation_rate": 2}, "dilation_rate"),
        ({"num_channel_groups": 0}, "num_channel_groups"),
        ({"num_channel_groups": 1.5}, "num_channel_groups"),
        ({"output_blocks": 5}, "output_blocks"),
        ({"output_blocks": 0}, "output_blocks"),
        ({"filters": 8, "output_blocks": 4, "num_channel_groups": 3}, "output_blocks"),
    ],
)
def test_bad_arguments_are_named(kwargs, name):
    arguments = {"filters": 12, "kernel_size": 3}
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=name):
        layers.MaskedConv2D(**arguments)


def test_input_with_fewer_channels_than_groups_is_rejected():
    layer = layers.MaskedConv2D(6, 3, num_channel_groups=3)
    with pytest.raises(ValueError, match="input_shape"):
        layer(np.zeros((1, 4, 4, 2), "float32"))


def test_config_round_trip(tmp_path):
    x = np.random.default_rng(2).normal(size=(2, 5, 6, 4)).astype("float32")
    checked = helpers.check_layer(
        layers.MaskedConv2D,
        dict(
            filters=8,
            kernel_size=(3, 5),
            mask_type="A",
            num_channel_groups=3,
            output_blocks=2,
            activation="relu",
            name="masked",
        ),
        x,
        expected_output_shape=(2, 5, 6, 8),
        expected_config={"mask_type": "A", "num_channel_groups": 3, "output_blocks": 2},
        tmp_path=tmp_path,
    )
    for other in (checked.clone, checked.loaded):
        np.testing.assert_array_equal(
            keras.ops.convert_to_numpy(other.mask),
            keras.ops.convert_to_numpy(checked.layer.mask),
        )


@pytest.mark.parametrize(
    "kwargs, channels",
    [
        (dict(filters=6, kernel_size=5, mask_type="A", num_channel_groups=3), 3),
        (
            dict(
                filters=8,
                kernel_size=(1, 3),
                mask_type="B",
                num_channel_groups=3,
                output_blocks=2,
            ),
            6,
        ),
    ],
)
def test_keras_file_round_trip(tmp_path, kwargs, channels):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 6, 6, channels)).astype("float32")

    def nonzero_weights(layer):
        # Non-zero weights everywhere, the masked ones included.
        layer.set_weights([rng.normal(size=w.shape) for w in layer.get_weights()])

    checked = helpers.check_layer(
        layers.MaskedConv2D, kwargs, x, prepare=nonzero_weights, tmp_path=tmp_path
    )
    assert np.all(checked.layer.get_weights()[0] != 0.0)
