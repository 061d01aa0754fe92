"""Every model family under Keras' mixed-precision policies.

The network computes in the policy's compute dtype (bfloat16 or float16)
with float32 variables; the layer that outputs the likelihood's parameters,
the likelihood, the bits/dim and the sampling draws stay float32. The cached
samplers compute in float32 from the float32 variables, so under a mixed
policy they agree with the network to its rounding (the bound tested here),
not bit for bit: the measured bounds are in BUILD.md, "Mixed precision".
"""

import keras
import numpy as np
import pytest

from pixel_keras import training
from pixel_keras.models import GatedPixelCNN
from pixel_keras.models.gated_pixel_cnn import cached_sampler as gated_pixel_cnn_sampler
from pixel_keras.models.pixel_cnn import cached_sampler as pixel_cnn_sampler
from pixel_keras.models.pixel_cnn_pp import cached_sampler as pixel_cnn_pp_sampler
from pixel_keras.models.pixel_rnn import diagonal_bilstm_sampler
from pixel_keras.models.pixel_rnn import row_lstm_sampler

from tests import helpers

POLICIES = ("mixed_bfloat16", "mixed_float16")
# The float16 runs of most checks add little to bfloat16's: they run with
# the slow tests, to keep the default suite under its time budget.
POLICIES_FLOAT16_SLOW = (
    "mixed_bfloat16",
    pytest.param("mixed_float16", marks=pytest.mark.slow),
)
FAMILIES = ("pixel_cnn_pp", "pixel_cnn", "row_lstm", "diagonal_bilstm", "gated_pixel_cnn")
# Relative bound (to the largest output) of the cached sampler's float32
# outputs against the network's, about 4 times the largest difference
# measured (bfloat16: 0.0077; float16: 0.0019).
CACHED_BOUND = {"mixed_bfloat16": 0.03, "mixed_float16": 0.008}


def _model(family, policy, image_shape=(4, 4, 1), **overrides):
    helpers.set_random_seed(3)
    if family == "pixel_cnn_pp":
        return helpers.tiny_pixel_cnn_pp(image_shape=image_shape, dtype=policy, **overrides)
    if family == "pixel_cnn":
        return helpers.tiny_pixel_cnn(image_shape=image_shape, dtype=policy, **overrides)
    if family == "gated_pixel_cnn":
        config = {"num_filters": 6, "num_layers": 2, "output_filters": 12, **overrides}
        return GatedPixelCNN.from_preset(
            "tiny", image_shape=image_shape, dtype=policy, **config
        )
    return helpers.tiny_pixel_rnn(family, image_shape=image_shape, dtype=policy, **overrides)


def _images(model, batch=4, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, model.num_levels, (batch, *model.image_shape))


def _cached_outputs(family, model, images):
    """The cached sampler's teacher-forced outputs, shaped as the network's."""
    if family == "pixel_cnn_pp":
        return pixel_cnn_pp_sampler.outputs(model, images).numpy()
    module = {
        "pixel_cnn": pixel_cnn_sampler,
        "row_lstm": row_lstm_sampler,
        "diagonal_bilstm": diagonal_bilstm_sampler,
        "gated_pixel_cnn": gated_pixel_cnn_sampler,
    }[family]
    return module.cached_logits(model, images).numpy()


def _network_outputs(family, model, images):
    outputs = model(model.make_inputs(images), training=False)
    if family == "pixel_cnn_pp":
        return outputs.numpy()
    return model.channel_logits(outputs).numpy()


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("family", FAMILIES)
def test_network_computes_in_the_policy_and_the_likelihood_in_float32(family, policy):
    model = _model(family, policy)
    compute_dtype = keras.dtype_policies.get(policy).compute_dtype
    assert model.dtype_policy.name == policy
    hidden = [layer for layer in model.layers if layer.weights][0]
    assert hidden.compute_dtype == compute_dtype
    assert {weight.dtype for weight in model.weights} == {"float32"}
    images = _images(model)
    assert model(model.make_inputs(images)).dtype == "float32"
    log_prob = model.log_prob(images)
    assert log_prob.dtype == "float32"
    assert np.all(np.isfinite(log_prob.numpy()))
    np.testing.assert_allclose(
        model.bits_per_dim(images).numpy(),
        -log_prob.numpy() / (np.prod(model.image_shape) * np.log(2.0)),
        rtol=1e-6,
    )


@pytest.mark.parametrize("policy", POLICIES_FLOAT16_SLOW)
@pytest.mark.parametrize("family", FAMILIES)
def test_causal_by_gradients_under_the_policy(family, policy):
    model = _model(family, policy, image_shape=(4, 4, 1))
    images = _images(model, batch=2).astype(np.float32)
    maps = helpers.input_gradient_maps(
        lambda x: model(x, training=False),
        images,
        [(r, c) for r in range(4) for c in range(4)],
    )
    helpers.assert_raster_causal(maps, width=4)


@pytest.mark.parametrize("policy", POLICIES_FLOAT16_SLOW)
@pytest.mark.parametrize("family", FAMILIES)
def test_pmf_sums_to_one_over_every_image(family, policy):
    model = _model(family, policy, image_shape=(2, 2, 1), num_levels=3)
    images = helpers.all_images((2, 2, 1), 3)
    total = np.exp(model.log_prob(images).numpy().astype(np.float64)).sum()
    assert total == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("policy", POLICIES_FLOAT16_SLOW)
@pytest.mark.parametrize("family", FAMILIES)
def test_keras_round_trip_keeps_the_policy_and_the_outputs(family, policy, tmp_path):
    model = _model(family, policy)
    checked = helpers.check_model(model, _images(model), tmp_path=tmp_path)
    assert checked.loaded.dtype_policy.name == policy
    assert checked.clone.dtype_policy.name == policy


@pytest.mark.parametrize("policy", POLICIES_FLOAT16_SLOW)
@pytest.mark.parametrize("family", FAMILIES)
def test_fit_lowers_the_loss(family, policy):
    model = _model(family, policy)
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    if policy == "mixed_float16":
        # Keras scales the loss for float16.
        assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    images = _images(model, batch=8).astype(np.float32)
    history = model.fit(images, epochs=6, batch_size=8, verbose=0)
    losses = history.history["loss"]
    assert np.all(np.isfinite(losses))
    assert losses[-1] < losses[0] - 0.02, losses


@pytest.mark.parametrize("policy", POLICIES_FLOAT16_SLOW)
@pytest.mark.parametrize("family", FAMILIES)
def test_cached_sampler_agrees_with_the_network_to_its_rounding(family, policy):
    channels = 1 if family == "diagonal_bilstm" else 3
    model = _model(family, policy, image_shape=(6, 6, channels))
    helpers.perturb_weights(model, 0.1)
    images = _images(model)
    network = _network_outputs(family, model, images)
    cached = _cached_outputs(family, model, images).reshape(network.shape)
    difference = np.abs(cached - network).max()
    assert difference <= CACHED_BOUND[policy] * np.abs(network).max(), difference
    # The same seeds give mostly the same draws: they differ only from the
    # first draw whose uniform falls within the rounding of a boundary.
    cached_samples = model.sample(8, seed=5).numpy()
    naive_samples = model.sample(8, seed=5, method="naive").numpy()
    assert cached_samples.dtype == naive_samples.dtype == np.uint8
    assert np.mean(cached_samples == naive_samples) >= 0.5


@pytest.mark.slow
def test_float32_cached_sampler_is_still_exact():
    model = _model("pixel_cnn_pp", "float32", image_shape=(6, 6, 3))
    helpers.perturb_weights(model, 0.1)
    np.testing.assert_array_equal(
        model.sample(4, seed=5).numpy(), model.sample(4, seed=5, method="naive").numpy()
    )


@pytest.mark.parametrize("policy", POLICIES_FLOAT16_SLOW)
def test_weight_norm_initializes_under_the_policy(policy):
    model = _model("pixel_cnn_pp", policy, image_shape=(4, 4, 1), weight_norm=True)
    images = _images(model, batch=16).astype(np.float32)
    count = training.initialize_weight_norm(model, images)
    assert count > 0
    assert {weight.dtype for weight in model.weights} == {"float32"}
    assert np.all(np.isfinite(model.log_prob(images).numpy()))


def test_float16_compile_scales_the_loss():
    model = _model("pixel_cnn", "mixed_float16")
    model.compile(optimizer=training.make_optimizer(1e-3))
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    assert training.optimizer_name(model.optimizer) == "adam"


@pytest.mark.slow  # a float16 fit of PixelCNN++: about 14 s
def test_float16_loss_scaling_keeps_the_ema_weights():
    from pixel_keras.training import ema

    model = _model("pixel_cnn_pp", "mixed_float16")
    model.compile(optimizer=training.make_optimizer(1e-2, ema_momentum=0.5))
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    images = _images(model, batch=8).astype(np.float32)
    model.fit(images, epochs=1, batch_size=4, verbose=0)
    assert ema.uses_ema(model)
    # `fit` ends holding the averages; move the weights off them.
    raw = [variable.numpy() + 0.05 for variable in model.trainable_variables]
    for variable, value in zip(model.trainable_variables, raw):
        variable.assign(value)
    with ema.ema_weights(model) as swapped:
        assert swapped
        averaged = [variable.numpy() for variable in model.trainable_variables]
    assert any(not np.array_equal(a, b) for a, b in zip(raw, averaged))
    for variable, value in zip(model.trainable_variables, raw):
        np.testing.assert_array_equal(variable.numpy(), value)
