"""Weight-normalized layers: the effective kernel g v / ||v||, the bias it
needs, config and saving."""

import keras
import numpy as np
import pytest

from pixel_keras import layers
from tests import helpers

# (layer, input shape, the kernel axis of the output channels)
_LAYERS = [
    (lambda: layers.DownShiftedConv2D(5, weight_norm=True), (2, 4, 4, 3), -1),
    (lambda: layers.DownRightShiftedConv2D(5, strides=2, weight_norm=True), (2, 4, 4, 3), -1),
    (lambda: layers.DownShiftedConv2DTranspose(5, weight_norm=True), (2, 4, 4, 3), -2),
    (lambda: layers.DownRightShiftedConv2DTranspose(5, weight_norm=True), (2, 4, 4, 3), -2),
    (lambda: layers.WeightNormDense(5), (2, 4, 4, 3), -1),
    (lambda: layers.WeightNormConv2D(5, 1), (2, 4, 4, 3), -1),
    (lambda: layers.VerticalStackConv2D(5, 3, mask_type="A", weight_norm=True), (2, 4, 5, 3), -1),
]

# Masked layers: the norm is over the taps the mask keeps.
_MASKED_LAYERS = [
    lambda: layers.MaskedConv2D(6, 3, mask_type="A", num_channel_groups=3, weight_norm=True),
    lambda: layers.MaskedConv2D(6, 1, num_channel_groups=3, weight_norm=True),
    lambda: layers.HorizontalStackConv2D(
        6, 5, mask_type="A", num_channel_groups=3, output_blocks=2, weight_norm=True
    ),
]


@pytest.mark.parametrize("make_layer, input_shape, output_axis", _LAYERS)
def test_kernel_is_g_times_v_over_its_norm(make_layer, input_shape, output_axis):
    layer = make_layer()
    x = np.random.default_rng(0).normal(size=input_shape).astype("float32")
    before = keras.ops.convert_to_numpy(layer(x))
    v = layer.kernel_v.numpy()
    # g starts at ||v||: the layer starts as the plain layer with kernel v.
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer.kernel), v, rtol=1e-5, atol=1e-7)
    g = np.random.default_rng(1).uniform(0.5, 2.0, size=layer.kernel_g.shape)
    layer.kernel_g.assign(g)
    axes = tuple(a for a in range(v.ndim) if a != v.ndim + output_axis)
    norm = np.sqrt((v.astype(np.float64) ** 2).sum(axis=axes, keepdims=True))
    shape = [1] * v.ndim
    shape[output_axis] = -1
    expected = g.reshape(shape) * v / norm
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer.kernel), expected, rtol=1e-5)
    # The layer computes with that kernel: per output channel, g / ||v||
    # times what it computed with g = ||v||.
    bias = layer.bias.numpy()
    after = keras.ops.convert_to_numpy(layer(x))
    ratio = (g / norm.reshape(-1)).astype(np.float32)
    np.testing.assert_allclose(after - bias, (before - bias) * ratio, rtol=1e-4, atol=1e-5)
    assert len(layer.trainable_variables) == 3  # v, bias, g


@pytest.mark.parametrize("make_layer", _MASKED_LAYERS)
def test_masked_kernel_is_normalized_over_the_taps_it_keeps(make_layer):
    import tensorflow as tf

    layer = make_layer()
    x = tf.random.normal((2, 4, 5, 3), seed=0)
    plain_outputs = layer(x)
    mask = np.asarray(layer.mask, np.float64)
    v = layer.kernel_v.numpy().astype(np.float64)
    # g starts at the masked kernel's norm: the plain masked layer.
    np.testing.assert_allclose(layer.kernel, v * mask, rtol=1e-5, atol=1e-7)
    g = np.random.default_rng(1).uniform(0.5, 2.0, size=layer.kernel_g.shape)
    layer.kernel_g.assign(g)
    norm = np.sqrt(((v * mask) ** 2).sum(axis=(0, 1, 2)))
    np.testing.assert_allclose(layer.kernel, g * v * mask / norm, rtol=1e-5, atol=1e-7)
    # The masked taps of v never act, not even through the norm: their
    # gradients are exactly zero. (Not every kept tap's is non-zero: the
    # direction of an output channel that keeps a single tap is constant.)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(x) ** 2)
    gradient = tape.gradient(loss, layer.kernel_v).numpy()
    assert np.all(gradient[mask == 0] == 0) and np.any(gradient[mask == 1] != 0)
    assert plain_outputs.shape == (2, 4, 5, 6)


@pytest.mark.parametrize(
    "make_layer",
    [
        lambda: layers.MaskedConv2D(4, 3, use_bias=False, weight_norm=True),
        lambda: layers.HorizontalStackConv2D(4, 3, use_bias=False, weight_norm=True),
        lambda: layers.WeightNormConv2D(4, 1, use_bias=False),
        lambda: layers.DownShiftedConv2D(4, use_bias=False, weight_norm=True),
        lambda: layers.DownRightShiftedConv2DTranspose(4, use_bias=False, weight_norm=True),
        lambda: layers.WeightNormDense(4, use_bias=False),
    ],
)
def test_weight_norm_without_bias_is_refused(make_layer):
    with pytest.raises(ValueError, match="use_bias=False"):
        make_layer()


def test_weight_norm_dense_config_and_keras_file_round_trip(tmp_path):
    x = np.random.default_rng(2).normal(size=(2, 4, 4, 3)).astype("float32")

    def other_scales(layer):
        # g away from ||v||, so that a lost g would show.
        layer.kernel_g.assign(np.random.default_rng(3).uniform(0.5, 2.0, layer.kernel_g.shape))

    checked = helpers.check_layer(
        layers.WeightNormDense,
        dict(units=5, activation="elu", name="dense"),
        x,
        prepare=other_scales,
        expected_output_shape=(2, 4, 4, 5),
        expected_num_weights=3,  # v, bias, g
        expected_config={"units": 5},
        tmp_path=tmp_path,
    )
    np.testing.assert_array_equal(checked.loaded.kernel_g.numpy(), checked.layer.kernel_g.numpy())


@pytest.mark.parametrize(
    "layer_class, init_kwargs",
    [
        (layers.MaskedConv2D, dict(kernel_size=3, num_channel_groups=3, weight_norm=True)),
        (
            layers.HorizontalStackConv2D,
            dict(kernel_size=3, num_channel_groups=3, weight_norm=True),
        ),
        (layers.VerticalStackConv2D, dict(kernel_size=3, mask_type="A", weight_norm=True)),
        (layers.WeightNormConv2D, dict(kernel_size=1)),
    ],
)
def test_weight_normalized_convolutions_config_and_keras_file_round_trip(
    layer_class, init_kwargs, tmp_path
):
    x = np.random.default_rng(2).normal(size=(2, 4, 5, 3)).astype("float32")

    def other_scales(layer):
        layer.kernel_g.assign(np.random.default_rng(3).uniform(0.5, 2.0, layer.kernel_g.shape))

    checked = helpers.check_layer(
        layer_class,
        dict(init_kwargs, filters=6, name="conv"),
        x,
        prepare=other_scales,
        expected_output_shape=(2, 4, 5, 6),
        expected_num_weights=3,  # v, bias, g
        expected_config={"filters": 6},
        tmp_path=tmp_path,
    )
    np.testing.assert_array_equal(checked.loaded.kernel_g.numpy(), checked.layer.kernel_g.numpy())
