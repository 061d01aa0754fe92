"""DiscretizedLogisticMixture in TFP: shapes, Independent, Sample, slicing,
broadcasting, tf.function, dtypes.

Numbers are checked against the independent float64 NumPy/SciPy reference
in tests/helpers.py (`mixture_log_prob`), so a shared mistake in the formula
would not go unnoticed. Everything runs on the CPU with small shapes.
"""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from pixel_keras.distributions import DiscretizedLogisticMixture
from tests import helpers

tfd = tfp.distributions


# --------------------------------------------------------------------------
# TFP integration.
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def image_params():
    rng = np.random.default_rng(20)
    return helpers.random_mixture_params(rng, [2, 3, 4], 5, 3)


@pytest.fixture(scope="module")
def image_values():
    rng = np.random.default_rng(21)
    return rng.integers(0, 256, size=(2, 3, 4, 3)).astype(np.float32)


def test_batch_and_event_shapes(image_params):
    dist = helpers.make_mixture(image_params)
    assert dist.batch_shape == tf.TensorShape([2, 3, 4])
    assert dist.event_shape == tf.TensorShape([3])
    np.testing.assert_array_equal(dist.batch_shape_tensor().numpy(), [2, 3, 4])
    np.testing.assert_array_equal(dist.event_shape_tensor().numpy(), [3])
    assert dist.num_channels == 3 and dist.num_components == 5
    assert dist.num_levels == 256
    assert dist.sample(seed=[0, 1]).shape == (2, 3, 4, 3)


def test_independent_sums_pixel_log_probs(image_params, image_values):
    dist = helpers.make_mixture(image_params)
    images = tfd.Independent(dist, reinterpreted_batch_ndims=2)
    assert images.batch_shape == tf.TensorShape([2])
    assert images.event_shape == tf.TensorShape([3, 4, 3])
    per_pixel = dist.log_prob(image_values).numpy()
    np.testing.assert_allclose(
        images.log_prob(image_values).numpy(), per_pixel.sum(axis=(1, 2)), rtol=1e-6
    )
    expected = helpers.mixture_log_prob(image_values, **image_params, num_levels=256)
    np.testing.assert_allclose(per_pixel, expected, rtol=1e-4, atol=1e-5)
    sample = images.sample(seed=[4, 4])
    assert sample.shape == (2, 3, 4, 3)
    assert images.log_prob(sample).shape == (2,)


def test_tfd_sample_wrapper(image_params):
    dist = helpers.make_mixture(image_params)
    repeated = tfd.Sample(dist, 3)
    assert repeated.event_shape == tf.TensorShape([3, 3])
    draws = repeated.sample(seed=[8, 9])
    assert draws.shape == (2, 3, 4, 3, 3)
    # tfd.Sample puts the sample axis after the batch axes.
    per_draw = dist.log_prob(tf.transpose(draws, [3, 0, 1, 2, 4])).numpy()
    np.testing.assert_allclose(
        repeated.log_prob(draws).numpy(), per_draw.sum(axis=0), rtol=1e-6
    )


def test_slicing(image_params, image_values):
    dist = helpers.make_mixture(image_params)
    full = dist.log_prob(image_values).numpy()
    first = dist[0]
    assert first.batch_shape == tf.TensorShape([3, 4])
    np.testing.assert_allclose(first.log_prob(image_values[0]).numpy(), full[0],
                               rtol=1e-6)
    column = dist[:, 1]
    assert column.batch_shape == tf.TensorShape([2, 4])
    np.testing.assert_allclose(column.log_prob(image_values[:, 1]).numpy(),
                               full[:, 1], rtol=1e-6)
    corner = dist[1, 2:, ::2]
    assert corner.batch_shape == tf.TensorShape([1, 2])
    np.testing.assert_allclose(corner.log_prob(image_values[1, 2:, ::2]).numpy(),
                               full[1, 2:, ::2], rtol=1e-6)
    assert column.num_levels == dist.num_levels


def test_slicing_keeps_num_levels_and_missing_coefficients():
    rng = np.random.default_rng(22)
    params = helpers.random_mixture_params(rng, [4], 2, 1)
    dist = helpers.make_mixture(params, num_levels=5)
    sliced = dist[1:3]
    assert sliced.num_levels == 5 and sliced.coefficients is None
    full = dist.log_prob(np.array([[2.0], [0.0], [4.0], [1.0]])).numpy()
    np.testing.assert_allclose(sliced.log_prob(np.array([[0.0], [4.0]])).numpy(),
                               full[1:3], rtol=1e-6)
    expected = helpers.mixture_log_prob(np.array([[0.0], [4.0]]),
                                  **{k: None if v is None else v[1:3]
                                     for k, v in params.items()}, num_levels=5)
    np.testing.assert_allclose(full[1:3], expected, rtol=1e-5)


def test_parameter_broadcasting():
    rng = np.random.default_rng(23)
    params = helpers.random_mixture_params(rng, [3], 2, 3)
    # logits without batch dims, coefficients shared by a middle batch axis.
    logits = params["logits"][0]
    locs = np.broadcast_to(params["locs"][:, None], (3, 4, 2, 3))
    log_scales = params["log_scales"][:, None]
    coefficients = params["coefficients"][0]
    dist = helpers.make_mixture(dict(logits=logits, locs=locs, log_scales=log_scales,
                          coefficients=coefficients))
    assert dist.batch_shape == tf.TensorShape([3, 4])
    values = rng.integers(0, 256, size=(3, 4, 3)).astype(np.float64)
    expected = helpers.mixture_log_prob(
        values, np.broadcast_to(logits, (3, 4, 2)), locs,
        np.broadcast_to(log_scales, (3, 4, 2, 3)),
        np.broadcast_to(coefficients, (3, 4, 2, 3)), 256,
    )
    np.testing.assert_allclose(dist.log_prob(values).numpy(), expected,
                               rtol=1e-4, atol=1e-5)
    assert dist.sample(2, seed=[1, 3]).shape == (2, 3, 4, 3)
    # Values with extra leading dimensions broadcast against the batch.
    assert dist.log_prob(np.zeros([5, 1, 1, 3])).shape == (5, 3, 4)


def test_works_inside_tf_function(image_params, image_values):
    dist = helpers.make_mixture(image_params)
    eager = dist.log_prob(image_values).numpy()

    @tf.function
    def log_prob_and_sample(values, seed):
        inner = helpers.make_mixture(image_params)
        return inner.log_prob(values), inner.sample(2, seed=seed)

    graph_log_prob, graph_sample = log_prob_and_sample(
        tf.constant(image_values), tf.constant([7, 7])
    )
    np.testing.assert_allclose(graph_log_prob.numpy(), eager, rtol=1e-6)
    np.testing.assert_array_equal(graph_sample.numpy(),
                                  dist.sample(2, seed=[7, 7]).numpy())

    @tf.function
    def log_prob_of(distribution, values):  # composite-tensor argument
        return distribution.log_prob(values)

    np.testing.assert_allclose(log_prob_of(dist, image_values).numpy(), eager,
                               rtol=1e-6)


def test_float64_parameters_give_float64_results(image_params, image_values):
    dist = helpers.make_mixture(image_params, dtype=tf.float64)
    assert dist.dtype == tf.float64
    assert dist.log_prob(image_values.astype(np.float64)).dtype == tf.float64
    assert dist.sample(seed=[1, 2]).dtype == tf.float64
    # NumPy's default float64 does not force float64; float32 is the default.
    assert DiscretizedLogisticMixture(**image_params).dtype == tf.float32


def test_integer_values_are_accepted():
    rng = np.random.default_rng(24)
    dist = helpers.make_mixture(helpers.random_mixture_params(rng, [4], 2, 3))
    values = rng.integers(0, 256, size=(4, 3))
    np.testing.assert_allclose(
        dist.log_prob(tf.constant(values, tf.int32)).numpy(),
        dist.log_prob(values.astype(np.float32)).numpy(), rtol=1e-7,
    )


def test_missing_coefficients_mean_no_dependence():
    rng = np.random.default_rng(25)
    params = helpers.random_mixture_params(rng, [6], 3, 3)
    values = rng.integers(0, 256, size=(6, 3)).astype(np.float32)
    zero = dict(params, coefficients=np.zeros_like(params["coefficients"]))
    without = dict(params, coefficients=None)
    np.testing.assert_allclose(helpers.make_mixture(without).log_prob(values).numpy(),
                               helpers.make_mixture(zero).log_prob(values).numpy(), rtol=1e-6)


def test_sampling_without_coefficients_for_several_channels():
    rng = np.random.default_rng(26)
    params = helpers.random_mixture_params(rng, [6], 3, 3)
    zero = dict(params, coefficients=np.zeros_like(params["coefficients"]))
    without = dict(params, coefficients=None)
    np.testing.assert_array_equal(
        helpers.make_mixture(without).sample(10, seed=[2, 2]).numpy(),
        helpers.make_mixture(zero).sample(10, seed=[2, 2]).numpy(),
    )
