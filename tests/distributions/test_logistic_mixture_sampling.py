"""DiscretizedLogisticMixture: sample frequencies against the pmf, the
inverse-CDF `sample_from_uniforms`, seeds and noise shapes.

Numbers are checked against the independent float64 NumPy/SciPy reference
in tests/helpers.py (`mixture_log_prob`), so a shared mistake in the formula
would not go unnoticed. Everything runs on the CPU with small shapes.
"""

import numpy as np
import pytest
import tensorflow as tf

from tests import helpers


# --------------------------------------------------------------------------
# Sampling.
# --------------------------------------------------------------------------


def test_single_channel_sample_frequencies_match_pmf():
    params = dict(logits=np.array([0.5, -0.3, 1.0]),
                  locs=np.array([[-0.6], [0.1], [0.7]]),
                  log_scales=np.array([[-3.0], [-2.0], [-4.0]]),
                  coefficients=None)
    dist = helpers.make_mixture(params)
    n = 20000
    samples = dist.sample(n, seed=[3, 14]).numpy()
    assert samples.shape == (n, 1) and samples.dtype == np.float32
    counts = np.bincount(samples[:, 0].astype(np.int64), minlength=256)
    probs = np.exp(helpers.mixture_log_prob(np.arange(256.0)[:, None], **params,
                                      num_levels=256))
    _, p_value = helpers.pooled_chi_square(counts, n * probs)
    assert p_value > 1e-3


@pytest.mark.parametrize("use_sample_from_uniforms", [False, True])
def test_three_channel_joint_sample_frequencies_match_pmf(use_sample_from_uniforms):
    # Strong coefficients: conditioning on the continuous rather than the
    # discretized earlier channels would shift the later channels visibly.
    num_levels = 4
    params = dict(logits=np.array([0.3, -0.2]),
                  locs=np.array([[-0.2, 0.1, -0.3], [0.4, -0.5, 0.2]]),
                  log_scales=np.array([[-1.0, -1.5, -1.2], [-1.3, -1.0, -1.6]]),
                  coefficients=np.array([[1.5, -1.2, 0.9], [-1.0, 1.4, 1.1]]))
    dist = helpers.make_mixture(params, num_levels)
    n = 30000
    if use_sample_from_uniforms:
        rng = np.random.default_rng(5)
        samples = dist.sample_from_uniforms(
            rng.uniform(size=(n, 2)), rng.uniform(size=(n, 3))
        ).numpy()
    else:
        samples = dist.sample(n, seed=[27, 18]).numpy()
    assert samples.shape == (n, 3)
    assert np.all(samples == np.round(samples))
    assert samples.min() >= 0 and samples.max() <= num_levels - 1
    index = (samples @ np.array([16.0, 4.0, 1.0])).astype(np.int64)
    counts = np.bincount(index, minlength=64)
    probs = np.exp(helpers.mixture_log_prob(helpers.all_pixel_values(num_levels, 3), **params,
                                      num_levels=num_levels))
    np.testing.assert_allclose(probs.sum(), 1.0, atol=1e-12)
    _, p_value = helpers.pooled_chi_square(counts, n * probs)
    assert p_value > 1e-3


def test_samples_are_integers_in_range_for_extreme_parameters():
    rng = np.random.default_rng(11)
    params = helpers.random_mixture_params(rng, [6, 5], 3, 3, loc_range=(-100.0, 100.0),
                           log_scale_range=(-7.0, 10.0),
                           coefficient_range=(-50.0, 50.0))
    for num_levels in (2, 256):
        samples = helpers.make_mixture(params, num_levels).sample(40, seed=[1, 2]).numpy()
        assert samples.shape == (40, 6, 5, 3)
        assert np.all(np.isfinite(samples))
        assert np.all(samples == np.round(samples))
        assert samples.min() == 0 and samples.max() == num_levels - 1
        assert np.all((samples >= 0) & (samples <= num_levels - 1))


def test_sample_is_deterministic_in_its_seed():
    rng = np.random.default_rng(12)
    dist = helpers.make_mixture(helpers.random_mixture_params(rng, [4], 3, 3))
    first = dist.sample(50, seed=[5, 6]).numpy()
    again = dist.sample(50, seed=tf.constant([5, 6])).numpy()
    other = dist.sample(50, seed=[5, 7]).numpy()
    np.testing.assert_array_equal(first, again)
    assert np.mean(first != other) > 0.5


def test_sample_from_uniforms_inverts_the_cdf():
    # One component, one channel: the sample is the smallest v with
    # CDF(v) >= u, exactly the inverse-CDF semantics of `sample`.
    loc, log_scale = 0.13, -2.5
    dist = helpers.make_mixture(dict(logits=np.zeros([1]), locs=np.array([[loc]]),
                          log_scales=np.array([[log_scale]]), coefficients=None))
    cdf = helpers.mixture_channel_cdf(loc, log_scale, 256)
    u = np.linspace(0.0005, 0.9995, 4001)
    # Keep away from the CDF steps, where float32 rounding may go either way.
    gap = np.abs(u[:, None] - cdf[None, :]).min(axis=1)
    u = u[gap > 1e-5]
    expected = np.searchsorted(cdf, u)
    component_uniforms = np.full([len(u), 1], 0.5)
    actual = dist.sample_from_uniforms(component_uniforms, u[:, None]).numpy()
    np.testing.assert_array_equal(actual[:, 0], expected)
    again = dist.sample_from_uniforms(component_uniforms, u[:, None]).numpy()
    np.testing.assert_array_equal(actual, again)


def test_sample_from_uniforms_conditions_on_discretized_channels():
    num_levels = 8
    locs = np.array([0.1, -0.2, 0.3])
    log_scales = np.array([-1.0, -1.5, -2.0])
    coefficients = np.array([0.9, -0.8, 1.3])
    params = dict(logits=np.zeros([1]), locs=locs[None], log_scales=log_scales[None],
                  coefficients=coefficients[None])
    dist = helpers.make_mixture(params, num_levels)
    rng = np.random.default_rng(13)
    u = rng.uniform(0.001, 0.999, size=(500, 3))
    actual = dist.sample_from_uniforms(np.full([500, 1], 0.5), u).numpy()
    top = num_levels - 1
    keep = np.ones(len(u), bool)
    expected = np.zeros_like(u)
    for i in range(len(u)):
        x = []
        for c in range(3):
            mean = locs[c] + sum(
                coefficients[c * (c - 1) // 2 + j] * x[j] for j in range(c)
            )
            cdf = helpers.mixture_channel_cdf(mean, log_scales[c], num_levels)
            keep[i] &= np.abs(cdf - u[i, c]).min() > 1e-5
            expected[i, c] = np.searchsorted(cdf, u[i, c])
            x.append(2.0 * expected[i, c] / top - 1.0)
    assert keep.sum() > 450
    np.testing.assert_array_equal(actual[keep], expected[keep])


def test_sample_from_uniforms_extremes():
    # A narrow component centred between levels 127 and 128.
    narrow = helpers.make_mixture(dict(logits=np.zeros([1]), locs=np.zeros([1, 1]),
                            log_scales=np.full([1, 1], -7.0), coefficients=None))
    u = np.array([[0.02], [0.3], [0.49], [0.51], [0.7], [0.98]])
    values = narrow.sample_from_uniforms(np.full([6, 1], 0.5), u).numpy()
    np.testing.assert_array_equal(values[:, 0], [127, 127, 127, 128, 128, 128])
    # Uniforms at (and beyond) the ends of [0, 1] give the edge values of a
    # unit-scale component and never NaN.
    wide = helpers.make_mixture(dict(logits=np.zeros([1]), locs=np.zeros([1, 1]),
                          log_scales=np.zeros([1, 1]), coefficients=None))
    u = np.array([[0.0], [1e-9], [1.0 - 1e-9], [1.0]])
    values = wide.sample_from_uniforms(np.array([[0.0], [1e-9], [1.0], [1.0]]),
                                       u).numpy()
    np.testing.assert_array_equal(values[:, 0], [0, 0, 255, 255])


def test_sample_from_uniforms_picks_component_by_gumbel_max():
    # Three well separated narrow components: the sample identifies the one
    # chosen, which must be argmax(logits + Gumbel(u)).
    logits = np.array([0.7, -0.4, 0.1])
    levels = np.array([20.0, 128.0, 230.0])
    locs = (2.0 * levels / 255.0 - 1.0)[:, None]
    dist = helpers.make_mixture(dict(logits=logits, locs=locs, log_scales=np.full([3, 1], -8.0),
                          coefficients=None))
    rng = np.random.default_rng(14)
    component_uniforms = rng.uniform(0.001, 0.999, size=(300, 3))
    channel_uniforms = np.full([300, 1], 0.5)
    values = dist.sample_from_uniforms(component_uniforms, channel_uniforms).numpy()
    chosen = np.argmax(logits - np.log(-np.log(component_uniforms)), axis=-1)
    np.testing.assert_array_equal(values[:, 0], levels[chosen])
    assert len(set(chosen)) == 3


def test_noise_shape_matches_sample_shape():
    rng = np.random.default_rng(15)
    dist = helpers.make_mixture(helpers.random_mixture_params(rng, [2, 3], 4, 3))
    component_shape, channel_shape = dist.noise_shape([5])
    assert component_shape == tf.TensorShape([5, 2, 3, 4])
    assert channel_shape == tf.TensorShape([5, 2, 3, 3])
    assert dist.noise_shape() == (tf.TensorShape([2, 3, 4]), tf.TensorShape([2, 3, 3]))
    samples = dist.sample_from_uniforms(
        rng.uniform(size=component_shape), rng.uniform(size=channel_shape)
    )
    assert samples.shape == (5, 2, 3, 3)
    assert dist.sample(5, seed=[1, 1]).shape == (5, 2, 3, 3)
