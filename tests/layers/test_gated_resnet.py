"""The gated residual block: causality, conditioning, dropout, config."""

import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf

from pixel_keras import layers
from tests import helpers


@pytest.mark.parametrize("shift", ["down", "down_right"])
def test_block_keeps_its_stream_footprint(shift):
    block = layers.GatedResNet(shift=shift)
    x = np.random.default_rng(0).normal(size=(1, 6, 6, 4))
    maps = helpers.input_gradient_maps(block, x, itertools.product(range(6), repeat=2))
    for (r, c), grad in maps.items():
        rows, cols = np.nonzero(grad)
        assert rows.max() <= r
        if shift == "down_right":
            assert cols.max() <= c
        assert grad[r, c] > 0  # the residual path


def test_skip_and_condition_change_the_output():
    block = layers.GatedResNet(shift="down_right")
    x = tf.random.normal([2, 4, 4, 6])
    skip = tf.random.normal([2, 4, 4, 3])
    condition = tf.one_hot([0, 1], 5)
    out = block(x, skip=skip, condition=condition)
    assert out.shape == x.shape
    other_skip = block(x, skip=skip + 1.0, condition=condition)
    other_condition = block(x, skip=skip, condition=tf.one_hot([1, 0], 5))
    assert not np.allclose(out, other_skip)
    assert not np.allclose(out, other_condition)
    with pytest.raises(ValueError, match="skip"):
        block(x, condition=condition)


def test_condition_map_is_a_nearest_upsampled_1x1_on_the_gates():
    block = layers.GatedResNet(shift="down_right")
    x = tf.random.normal([2, 4, 6, 5])
    condition_map = tf.random.normal([2, 2, 3, 3])
    out = block(x, condition_map=condition_map)
    kernel = block.condition_map_projection.kernel
    assert tuple(kernel.shape) == (3, 10) and block.condition_map_projection.bias is None
    # The map's term by hand: each value repeated over its 2 x 2 pixels,
    # times the kernel, added to the gates.
    repeated = np.repeat(np.repeat(condition_map.numpy(), 2, axis=1), 2, axis=2)
    term = np.einsum("bhwc,cf->bhwf", repeated, kernel.numpy())
    gates = block.gate_conv(
        block._dropout_layer(layers.concat_elu(block.first_conv(layers.concat_elu(x))))
    )
    values, gate_logits = np.split(gates.numpy() + term, 2, axis=-1)
    expected = x.numpy() + values / (1.0 + np.exp(-gate_logits))
    np.testing.assert_allclose(out.numpy(), expected, atol=1e-5)
    with pytest.raises(ValueError, match="condition_map"):
        block(x)
    with pytest.raises(ValueError, match="condition_map"):
        layers.GatedResNet()(x, condition_map=tf.zeros([2, 6]))


def test_dropout_only_in_training():
    block = layers.GatedResNet(dropout=0.5)
    x = tf.random.normal([2, 4, 4, 8])
    np.testing.assert_array_equal(block(x, training=False), block(x, training=False))
    assert not np.allclose(block(x, training=True), block(x, training=True))


def test_concat_elu_keeps_both_signs():
    x = np.array([[-2.0, 0.5]], dtype="float32")
    out = keras.ops.convert_to_numpy(layers.concat_elu(x))
    np.testing.assert_allclose(out, [[np.expm1(-2.0), 0.5, 2.0, np.expm1(-0.5)]], rtol=1e-6)


@pytest.mark.parametrize("weight_norm", [False, True])
def test_config_round_trip(weight_norm, tmp_path):
    x = np.random.default_rng(0).normal(size=(1, 4, 4, 4)).astype("float32")
    checked = helpers.check_layer(
        layers.GatedResNet,
        dict(shift="down_right", dropout=0.25, kernel_size=(2, 2), weight_norm=weight_norm),
        x,
        call_kwargs={"skip": x},
        expected_output_shape=x.shape,
        tmp_path=tmp_path,
    )
    # Both convolutions and the skip projection are weight-normalized.
    for block in (checked.clone, checked.loaded):
        normalized = [
            getattr(sub, "weight_norm", False)
            for sub in (block.first_conv, block.gate_conv, block.skip_projection)
        ]
        assert normalized == [weight_norm] * 3


@pytest.mark.parametrize("weight_norm", [False, True])
def test_conditioned_block_round_trip(weight_norm, tmp_path):
    # The condition is a call argument too: a saved model keeps its input.
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 4, 4, 6)).astype("float32")
    skip = rng.normal(size=(2, 4, 4, 3)).astype("float32")
    condition = np.eye(5, dtype="float32")[[0, 3]]
    helpers.check_layer(
        layers.GatedResNet,
        dict(shift="down", weight_norm=weight_norm),
        x,
        call_kwargs={"skip": skip, "condition": condition},
        prepare=lambda block: helpers.perturb_weights(block, 0.3),
        expected_output_shape=x.shape,
        tmp_path=tmp_path,
    )


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="shift"):
        layers.GatedResNet(shift="up")
    with pytest.raises(ValueError, match="dropout"):
        layers.GatedResNet(dropout=1.0)
