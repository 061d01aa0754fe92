"""Weight normalization: the effective kernel, the data-dependent init
(normalized pre-activations in every layer), causality, saving, training."""

import itertools

import keras
import numpy as np
import pytest

from pixel_keras import data
from pixel_keras import layers
from pixel_keras import training
from pixel_keras.layers import weight_norm
from pixel_keras.models import PixelCNNPlusPlus
from tests.conftest import assert_raster_causal
from tests.conftest import input_gradient_maps
from tests.conftest import tiny_pixel_cnn_pp

# (layer, input shape, the kernel axis of the output channels)
_LAYERS = [
    (lambda: layers.DownShiftedConv2D(5, weight_norm=True), (2, 4, 4, 3), -1),
    (lambda: layers.DownRightShiftedConv2D(5, strides=2, weight_norm=True), (2, 4, 4, 3), -1),
    (lambda: layers.DownShiftedConv2DTranspose(5, weight_norm=True), (2, 4, 4, 3), -2),
    (lambda: layers.DownRightShiftedConv2DTranspose(5, weight_norm=True), (2, 4, 4, 3), -2),
    (lambda: layers.WeightNormDense(5), (2, 4, 4, 3), -1),
]


def _digits(limit=64, labels=False):
    images, label_values = data.images_and_labels(data.load("digits").train, limit=limit)
    return (images.astype("float32"), label_values) if labels else images.astype("float32")


def _record_outputs(model, inputs):
    """Each weight-normalized layer's outputs (its pre-activations) in one
    forward pass (dropout off)."""
    outputs = {}
    normalized = weight_norm.weight_normalized_layers(model)
    for layer in normalized:
        call = layer.call

        def recording(*args, _layer=layer, _call=call, **kwargs):
            result = _call(*args, **kwargs)
            outputs[_layer.path] = np.asarray(result)
            return result

        object.__setattr__(layer, "call", recording)
    try:
        model(inputs, training=False)
    finally:
        for layer in normalized:
            object.__delattr__(layer, "call")
    assert len(outputs) == len(normalized)
    return outputs


def _worst_moments(outputs):
    """The largest |mean| and |std - 1| of any channel of any layer."""
    worst_mean = worst_std = 0.0
    for values in outputs.values():
        flat = values.reshape(-1, values.shape[-1]).astype(np.float64)
        worst_mean = max(worst_mean, np.abs(flat.mean(axis=0)).max())
        worst_std = max(worst_std, np.abs(flat.std(axis=0) - 1.0).max())
    return worst_mean, worst_std


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


@pytest.mark.parametrize(
    "make_layer",
    [
        lambda: layers.DownShiftedConv2D(4, use_bias=False, weight_norm=True),
        lambda: layers.DownRightShiftedConv2DTranspose(4, use_bias=False, weight_norm=True),
        lambda: layers.WeightNormDense(4, use_bias=False),
    ],
)
def test_weight_norm_without_bias_is_refused(make_layer):
    with pytest.raises(ValueError, match="use_bias=False"):
        make_layer()


def test_data_dependent_init_normalizes_every_layer_in_forward_order():
    images, labels = _digits(labels=True)
    model = tiny_pixel_cnn_pp(weight_norm=True, num_resnet=2, num_classes=10)
    inputs = {"images": images, "labels": labels}
    worst_before = _worst_moments(_record_outputs(model, inputs))
    count = training.initialize_weight_norm(model, images, labels)
    # 3 stem convolutions; 2 convolutions per block and a skip projection in
    # every down-right and every up block (2 x (4 + 6) down, 12 + 18 up); 2
    # strided and 2 transposed convolutions; the output layer.
    assert count == len(weight_norm.weight_normalized_layers(model)) == 58
    worst_mean, worst_std = _worst_moments(_record_outputs(model, inputs))
    assert worst_mean < 1e-3 and worst_std < 1e-3, (worst_mean, worst_std)
    assert max(worst_before) > 0.1  # the check is not trivially met


def test_init_from_one_pass_of_the_uninitialized_network_fails_that_check():
    # The naive initialization: every layer's g and bias from the moments of
    # its outputs in ONE pass of the un-initialized network. Later layers are
    # then initialized on inputs that the earlier layers no longer produce.
    images = _digits()
    model = tiny_pixel_cnn_pp(weight_norm=True, num_resnet=2)
    raw = _record_outputs(model, images)
    for layer in weight_norm.weight_normalized_layers(model):
        g, bias = layer.kernel_g.numpy(), layer.bias.numpy()
        direction_outputs = (raw[layer.path] - bias) / g  # v / ||v|| applied
        flat = direction_outputs.reshape(-1, direction_outputs.shape[-1])
        mean, std = flat.mean(axis=0), flat.std(axis=0)
        layer.kernel_g.assign(1.0 / std)
        layer.bias.assign(-mean / std)
    worst_mean, worst_std = _worst_moments(_record_outputs(model, images))
    assert worst_mean > 0.1 or worst_std > 0.1, (worst_mean, worst_std)


def test_weight_normalized_model_is_autoregressive_by_gradients():
    # Two resolutions: strided and transposed convolutions; 3 channels.
    model = tiny_pixel_cnn_pp(image_shape=(4, 4, 3), num_levels=256, weight_norm=True)
    x = np.random.default_rng(0).integers(0, 256, size=(4, 4, 4, 3)).astype("float32")
    training.initialize_weight_norm(model, x)
    maps = input_gradient_maps(model, x[:1], itertools.product(range(4), range(4)))
    assert_raster_causal(maps, 4)


def test_config_and_keras_file_round_trip_keep_log_prob(tmp_path):
    images = _digits(limit=16)
    model = tiny_pixel_cnn_pp(weight_norm=True)
    training.initialize_weight_norm(model, images)
    expected = model.log_prob(images).numpy()
    assert model.get_config()["weight_norm"] is True
    assert tiny_pixel_cnn_pp().get_config()["weight_norm"] is False

    clone = PixelCNNPlusPlus.from_config(model.get_config())
    clone.set_weights(model.get_weights())
    np.testing.assert_allclose(clone.log_prob(images).numpy(), expected, rtol=1e-6)

    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(loaded.log_prob(images).numpy(), expected, rtol=1e-6)
    assert len(weight_norm.weight_normalized_layers(loaded)) == len(
        weight_norm.weight_normalized_layers(model)
    )


def test_cached_sampler_reads_the_effective_kernels():
    model = tiny_pixel_cnn_pp(image_shape=(4, 4, 1), weight_norm=True)
    training.initialize_weight_norm(model, _digits()[:, :4, :4])
    cached = model.sample(2, seed=7, method="cached").numpy()
    naive = model.sample(2, seed=7, method="naive").numpy()
    np.testing.assert_array_equal(cached, naive)


def test_a_few_fit_steps_lower_the_loss():
    images = _digits(limit=128)
    model = tiny_pixel_cnn_pp(num_hierarchies=1, weight_norm=True)
    training.initialize_weight_norm(model, images[:64])
    model.compile(optimizer=training.make_optimizer(learning_rate=5e-3))
    before = model.bits_per_dim(images).numpy().mean()
    model.fit(images, batch_size=32, epochs=2, verbose=0)
    after = model.bits_per_dim(images).numpy().mean()
    assert np.isfinite(after) and after < before - 0.3, (before, after)
