"""Tests for pixel_keras.distributions.DiscretizedLogisticMixture.

The numbers are checked against an independent float64 NumPy/SciPy reference
written below, so a shared mistake in the formula would not go unnoticed.
Everything runs on the CPU with small shapes.
"""

import itertools
import math

import numpy as np
import pytest
import scipy.special
import scipy.stats
import tensorflow as tf
import tensorflow_probability as tfp

from pixel_keras.distributions import DiscretizedLogisticMixture

tfd = tfp.distributions


# --------------------------------------------------------------------------
# Independent float64 reference.
# --------------------------------------------------------------------------


def _log_logistic_bin(lo, hi, is_first, is_last):
    """log P(lo < X < hi) for a standard logistic X, stable in every regime.

    The lowest bin extends to -inf and the highest to +inf. Differences are
    taken on the side of the mode where they do not cancel: in the upper tail
    as survival-function differences, in the lower tail as cdf differences.
    """
    logistic = scipy.stats.logistic
    lo, hi, is_first, is_last = np.broadcast_arrays(lo, hi, is_first, is_last)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        logsf_lo, logsf_hi = logistic.logsf(lo), logistic.logsf(hi)
        logcdf_lo, logcdf_hi = logistic.logcdf(lo), logistic.logcdf(hi)
        # sf(lo) - sf(hi) = sf(lo) * (1 - exp(logsf(hi) - logsf(lo))).
        upper_tail = logsf_lo + np.log(-np.expm1(logsf_hi - logsf_lo))
        lower_tail = logcdf_hi + np.log(-np.expm1(logcdf_lo - logcdf_hi))
        # The bin contains the mode: both excluded masses are below 1/2.
        around_mode = np.log1p(-(logistic.cdf(lo) + logistic.sf(hi)))
    interior = np.where(
        lo >= 0.0, upper_tail, np.where(hi <= 0.0, lower_tail, around_mode)
    )
    return np.where(is_first, logcdf_hi, np.where(is_last, logsf_lo, interior))


def reference_log_prob(values, logits, locs, log_scales, coefficients, num_levels):
    """float64 log pmf; values `[..., C]`, parameters `[..., K(, C)]`."""
    values = np.asarray(values, np.float64)
    logits = np.asarray(logits, np.float64)
    locs = np.asarray(locs, np.float64)
    log_scales = np.asarray(log_scales, np.float64)
    top = num_levels - 1
    x = (2.0 * values - top) / top
    # Bin edges from exact integer numerators, so neighbouring bins share them.
    lower_edges = (2.0 * values - num_levels) / top
    upper_edges = (2.0 * values - num_levels + 2.0) / top
    total = scipy.special.log_softmax(logits, axis=-1)
    for c in range(locs.shape[-1]):
        mean = locs[..., c]
        for j in range(c):
            coefficient = np.asarray(coefficients, np.float64)[..., c * (c - 1) // 2 + j]
            mean = mean + coefficient * x[..., None, j]
        scale = np.exp(log_scales[..., c])
        v = values[..., None, c]
        total = total + _log_logistic_bin(
            (lower_edges[..., None, c] - mean) / scale,
            (upper_edges[..., None, c] - mean) / scale,
            v == 0,
            v == top,
        )
    return scipy.special.logsumexp(total, axis=-1)


def reference_channel_cdf(loc, log_scale, num_levels):
    """CDF `[L]` of one discretized logistic channel: P(V <= v)."""
    top = num_levels - 1
    upper_edges = (2.0 * np.arange(num_levels) - num_levels + 2.0) / top
    cdf = scipy.stats.logistic.cdf((upper_edges - loc) / math.exp(log_scale))
    cdf[-1] = 1.0
    return cdf


# --------------------------------------------------------------------------
# Helpers.
# --------------------------------------------------------------------------


def random_params(rng, batch_shape, num_components, num_channels, *,
                  loc_range=(-1.0, 1.0), log_scale_range=(-5.0, 2.0),
                  coefficient_range=(-1.0, 1.0), logit_scale=2.0):
    batch_shape = tuple(batch_shape)
    k, c = num_components, num_channels
    params = dict(
        logits=logit_scale * rng.standard_normal(batch_shape + (k,)),
        locs=rng.uniform(*loc_range, size=batch_shape + (k, c)),
        log_scales=rng.uniform(*log_scale_range, size=batch_shape + (k, c)),
        coefficients=None,
    )
    if c > 1:
        params["coefficients"] = rng.uniform(
            *coefficient_range, size=batch_shape + (k, c * (c - 1) // 2)
        )
    return params


def make_dist(params, num_levels=256, dtype=tf.float32, **kwargs):
    converted = {
        name: None if value is None else tf.constant(value, dtype)
        for name, value in params.items()
    }
    return DiscretizedLogisticMixture(num_levels=num_levels, **converted, **kwargs)


def all_values(num_levels, num_channels):
    """Every joint value, `[L**C, C]`, the first channel varying slowest."""
    grid = itertools.product(range(num_levels), repeat=num_channels)
    return np.array(list(grid), np.float64)


def pmf_table(dist, num_levels, num_channels, dtype=tf.float32):
    """pmf of every joint value for every batch member: `[L**C, *batch]`."""
    values = all_values(num_levels, num_channels)
    batch_rank = len(dist.batch_shape)
    values = values.reshape((-1,) + (1,) * batch_rank + (num_channels,))
    log_probs = dist.log_prob(tf.constant(values, dtype)).numpy()
    with np.errstate(over="ignore"):  # a broken pmf may exceed 1 by far
        return np.exp(log_probs.astype(np.float64)), log_probs


def pooled_chi_square(observed, expected, min_expected=5.0):
    """Chi-square test with the cells of small expectation pooled together."""
    observed = np.asarray(observed, np.float64)
    expected = np.asarray(expected, np.float64)
    small = expected < min_expected
    obs = np.append(observed[~small], observed[small].sum())
    exp = np.append(expected[~small], expected[small].sum())
    if exp[-1] == 0.0:
        obs, exp = obs[:-1], exp[:-1]
    exp = exp * obs.sum() / exp.sum()
    return scipy.stats.chisquare(obs, exp)


# --------------------------------------------------------------------------
# 1. Normalization.
# --------------------------------------------------------------------------


def extreme_single_channel_params(rng, count):
    """K=3, C=1 parameter sets from the ordinary to the extreme."""
    params = random_params(rng, [count], 3, 1, log_scale_range=(-7.0, 10.0))
    locs = params["locs"]
    # A third of the components far outside [-1, 1].
    far = rng.random(locs.shape) < 0.35
    locs[far] = rng.choice([-1.0, 1.0], size=far.sum()) * rng.uniform(
        1.0, 60.0, size=far.sum()
    )
    # Hand-picked corners, one per batch member: (loc, log_scale).
    corners = [(0.0, -7.0), (1.0, -7.0), (-1.0, -7.0), (1.0 / 255.0, -7.0),
               (50.0, -7.0), (-50.0, -7.0), (0.0, 10.0), (80.0, 10.0),
               (-3.0, 0.0), (0.998, -6.5)]
    for i, (loc, log_scale) in enumerate(corners):
        locs[i] = loc
        params["log_scales"][i] = log_scale
    return params


@pytest.mark.parametrize(
    "dtype, tolerance", [(tf.float32, 1e-5), (tf.float64, 1e-12)]
)
def test_single_channel_pmf_sums_to_one(dtype, tolerance):
    rng = np.random.default_rng(0)
    params = extreme_single_channel_params(rng, 200)
    probs, log_probs = pmf_table(make_dist(params, dtype=dtype), 256, 1, dtype)
    assert np.all(np.isfinite(log_probs))
    assert np.all(log_probs <= 0.0)
    np.testing.assert_allclose(probs.sum(axis=0), 1.0, rtol=0, atol=tolerance)


@pytest.mark.parametrize("num_levels", [2, 3, 17])
def test_single_channel_pmf_sums_to_one_for_few_levels(num_levels):
    rng = np.random.default_rng(num_levels)
    params = extreme_single_channel_params(rng, 50)
    probs, _ = pmf_table(
        make_dist(params, num_levels, tf.float64), num_levels, 1, tf.float64
    )
    np.testing.assert_allclose(probs.sum(axis=0), 1.0, rtol=0, atol=1e-10)


@pytest.mark.parametrize("num_levels", [4, 5])
@pytest.mark.parametrize(
    "dtype, tolerance", [(tf.float32, 1e-5), (tf.float64, 1e-12)]
)
def test_three_channel_joint_pmf_sums_to_one(num_levels, dtype, tolerance):
    rng = np.random.default_rng(10 + num_levels)
    params = random_params(
        rng, [20], 4, 3, loc_range=(-2.0, 2.0), log_scale_range=(-5.0, 3.0),
        coefficient_range=(-3.0, 3.0),
    )
    probs, _ = pmf_table(
        make_dist(params, num_levels, dtype), num_levels, 3, dtype
    )
    np.testing.assert_allclose(probs.sum(axis=0), 1.0, rtol=0, atol=tolerance)
    # Conditioning matters: the joint is not the product of its marginals.
    joint = probs.reshape((num_levels,) * 3 + (-1,))
    marginals = [joint.sum(axis=tuple(a for a in range(3) if a != i))
                 for i in range(3)]
    product = np.einsum("ib,jb,kb->ijkb", *marginals)
    assert np.abs(joint - product).max() > 1e-3


def test_binary_two_channel_pmf_sums_to_one():
    rng = np.random.default_rng(3)
    params = random_params(rng, [30], 3, 2, loc_range=(-3.0, 3.0),
                           coefficient_range=(-4.0, 4.0))
    for dtype, tolerance in [(tf.float32, 1e-6), (tf.float64, 1e-13)]:
        probs, _ = pmf_table(make_dist(params, 2, dtype), 2, 2, dtype)
        np.testing.assert_allclose(probs.sum(axis=0), 1.0, rtol=0, atol=tolerance)
        expected = np.exp(
            reference_log_prob(all_values(2, 2)[:, None], num_levels=2, **params)
        )
        np.testing.assert_allclose(probs, expected, rtol=1e-5, atol=1e-7)


# --------------------------------------------------------------------------
# 2. Equality with the reference.
# --------------------------------------------------------------------------


@pytest.mark.parametrize("num_channels", [1, 3])
@pytest.mark.parametrize("num_components", [1, 2, 5])
def test_log_prob_matches_reference(num_channels, num_components):
    rng = np.random.default_rng(100 * num_channels + num_components)
    batch = 40
    params = random_params(
        rng, [batch], num_components, num_channels,
        loc_range=(-2.0, 2.0), log_scale_range=(-5.0, 2.0),
        coefficient_range=(-1.5, 1.5),
    )
    values = rng.integers(0, 256, size=(batch, num_channels)).astype(np.float64)
    values[:4] = [[0.0], [255.0], [1.0], [254.0]]  # edges and their neighbours
    # Half of the values near a component's mean so that peaks are covered.
    near = (params["locs"][batch // 2:, 0] + 1.0) * 127.5
    values[batch // 2:] = np.clip(np.round(near), 0, 255)
    expected = reference_log_prob(values, **params, num_levels=256)

    actual32 = make_dist(params).log_prob(tf.constant(values, tf.float32))
    np.testing.assert_allclose(actual32.numpy(), expected, rtol=1e-4, atol=1e-5)
    actual64 = make_dist(params, dtype=tf.float64).log_prob(values)
    assert actual64.dtype == tf.float64
    np.testing.assert_allclose(actual64.numpy(), expected, rtol=1e-9, atol=1e-12)


def test_reference_itself_normalizes():
    # Guards the reference (and so every comparison with it) against a slip.
    rng = np.random.default_rng(7)
    params = random_params(rng, [5], 3, 3, log_scale_range=(-4.0, 1.0))
    values = all_values(4, 3)[:, None]
    total = np.exp(reference_log_prob(values, **params, num_levels=4)).sum(axis=0)
    np.testing.assert_allclose(total, 1.0, atol=1e-12)


@pytest.mark.parametrize("dtype", [tf.float32, tf.float64])
def test_far_tail_log_prob_matches_reference(dtype):
    # (loc, log_scale, value): a narrow component far from the value.
    cases = [(0.9, -4.0, 10.0), (0.9, -6.0, 3.0), (-0.8, -5.0, 250.0),
             (0.5, -7.0, 0.0), (-0.5, -3.0, 255.0), (-0.99, -6.0, 128.0),
             (3.0, -2.0, 2.0), (0.0, -7.0, 140.0)]
    locs, log_scales, values = (np.array(column) for column in zip(*cases))
    params = dict(logits=np.zeros([len(cases), 1]), locs=locs[:, None, None],
                  log_scales=log_scales[:, None, None], coefficients=None)
    expected = reference_log_prob(values[:, None], **params, num_levels=256)
    # Beyond where a naive float32 difference of sigmoids cancels to zero.
    assert np.all(expected < -25.0)
    actual = make_dist(params, dtype=dtype).log_prob(values[:, None]).numpy()
    np.testing.assert_allclose(actual, expected, rtol=1e-3)


def test_far_tail_mixture_keeps_the_dominant_component():
    # The value is in the far tail of the heavy component and in the far-far
    # tail of the light one; the mixture must not collapse to -inf.
    params = dict(logits=np.array([[5.0, -5.0]]),
                  locs=np.array([[[0.8], [-0.9]]]),
                  log_scales=np.array([[[-5.0], [-6.0]]]), coefficients=None)
    values = np.array([[5.0]])
    expected = reference_log_prob(values, **params, num_levels=256)
    actual = make_dist(params).log_prob(values).numpy()
    assert expected[0] < -25.0
    np.testing.assert_allclose(actual, expected, rtol=1e-3)


@pytest.mark.parametrize("dtype", [tf.float32, tf.float64])
def test_very_wide_component_matches_analytic_limit(dtype):
    num_levels, log_scale = 256, 40.0
    # The bin probability tends to the bin width 2 / (L - 1) times the density
    # at the mean, 1 / (4 s); the edge bins each hold half of the mass.
    interior = math.log(2.0 / (num_levels - 1)) - log_scale - math.log(4.0)
    params = dict(logits=np.zeros([1]), locs=np.array([[0.3, -0.7, 5.0]]),
                  log_scales=np.full([1, 3], log_scale),
                  coefficients=np.array([[0.5, -2.0, 1.0]]))
    dist = make_dist(params, num_levels, dtype)
    values = np.array([[1.0, 100.0, 254.0], [128.0, 7.0, 200.0],
                       [0.0, 255.0, 0.0], [0.0, 128.0, 255.0]])
    expected = np.array([3 * interior, 3 * interior, 3 * math.log(0.5),
                         2 * math.log(0.5) + interior])
    np.testing.assert_allclose(
        dist.log_prob(values).numpy(), expected, rtol=1e-6
    )


# --------------------------------------------------------------------------
# 3. Sampling.
# --------------------------------------------------------------------------


def test_single_channel_sample_frequencies_match_pmf():
    params = dict(logits=np.array([0.5, -0.3, 1.0]),
                  locs=np.array([[-0.6], [0.1], [0.7]]),
                  log_scales=np.array([[-3.0], [-2.0], [-4.0]]),
                  coefficients=None)
    dist = make_dist(params)
    n = 20000
    samples = dist.sample(n, seed=[3, 14]).numpy()
    assert samples.shape == (n, 1) and samples.dtype == np.float32
    counts = np.bincount(samples[:, 0].astype(np.int64), minlength=256)
    probs = np.exp(reference_log_prob(np.arange(256.0)[:, None], **params,
                                      num_levels=256))
    _, p_value = pooled_chi_square(counts, n * probs)
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
    dist = make_dist(params, num_levels)
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
    probs = np.exp(reference_log_prob(all_values(num_levels, 3), **params,
                                      num_levels=num_levels))
    np.testing.assert_allclose(probs.sum(), 1.0, atol=1e-12)
    _, p_value = pooled_chi_square(counts, n * probs)
    assert p_value > 1e-3


def test_samples_are_integers_in_range_for_extreme_parameters():
    rng = np.random.default_rng(11)
    params = random_params(rng, [6, 5], 3, 3, loc_range=(-100.0, 100.0),
                           log_scale_range=(-7.0, 10.0),
                           coefficient_range=(-50.0, 50.0))
    for num_levels in (2, 256):
        samples = make_dist(params, num_levels).sample(40, seed=[1, 2]).numpy()
        assert samples.shape == (40, 6, 5, 3)
        assert np.all(np.isfinite(samples))
        assert np.all(samples == np.round(samples))
        assert samples.min() == 0 and samples.max() == num_levels - 1
        assert np.all((samples >= 0) & (samples <= num_levels - 1))


def test_sample_is_deterministic_in_its_seed():
    rng = np.random.default_rng(12)
    dist = make_dist(random_params(rng, [4], 3, 3))
    first = dist.sample(50, seed=[5, 6]).numpy()
    again = dist.sample(50, seed=tf.constant([5, 6])).numpy()
    other = dist.sample(50, seed=[5, 7]).numpy()
    np.testing.assert_array_equal(first, again)
    assert np.mean(first != other) > 0.5


def test_sample_from_uniforms_inverts_the_cdf():
    # One component, one channel: the sample is the smallest v with
    # CDF(v) >= u, exactly the inverse-CDF semantics of `sample`.
    loc, log_scale = 0.13, -2.5
    dist = make_dist(dict(logits=np.zeros([1]), locs=np.array([[loc]]),
                          log_scales=np.array([[log_scale]]), coefficients=None))
    cdf = reference_channel_cdf(loc, log_scale, 256)
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
    dist = make_dist(params, num_levels)
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
            cdf = reference_channel_cdf(mean, log_scales[c], num_levels)
            keep[i] &= np.abs(cdf - u[i, c]).min() > 1e-5
            expected[i, c] = np.searchsorted(cdf, u[i, c])
            x.append(2.0 * expected[i, c] / top - 1.0)
    assert keep.sum() > 450
    np.testing.assert_array_equal(actual[keep], expected[keep])


def test_sample_from_uniforms_extremes():
    # A narrow component centred between levels 127 and 128.
    narrow = make_dist(dict(logits=np.zeros([1]), locs=np.zeros([1, 1]),
                            log_scales=np.full([1, 1], -7.0), coefficients=None))
    u = np.array([[0.02], [0.3], [0.49], [0.51], [0.7], [0.98]])
    values = narrow.sample_from_uniforms(np.full([6, 1], 0.5), u).numpy()
    np.testing.assert_array_equal(values[:, 0], [127, 127, 127, 128, 128, 128])
    # Uniforms at (and beyond) the ends of [0, 1] give the edge values of a
    # unit-scale component and never NaN.
    wide = make_dist(dict(logits=np.zeros([1]), locs=np.zeros([1, 1]),
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
    dist = make_dist(dict(logits=logits, locs=locs, log_scales=np.full([3, 1], -8.0),
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
    dist = make_dist(random_params(rng, [2, 3], 4, 3))
    component_shape, channel_shape = dist.noise_shape([5])
    assert component_shape == tf.TensorShape([5, 2, 3, 4])
    assert channel_shape == tf.TensorShape([5, 2, 3, 3])
    assert dist.noise_shape() == (tf.TensorShape([2, 3, 4]), tf.TensorShape([2, 3, 3]))
    samples = dist.sample_from_uniforms(
        rng.uniform(size=component_shape), rng.uniform(size=channel_shape)
    )
    assert samples.shape == (5, 2, 3, 3)
    assert dist.sample(5, seed=[1, 1]).shape == (5, 2, 3, 3)


# --------------------------------------------------------------------------
# 4. Gradients at extreme parameters.
# --------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [tf.float32, tf.float64])
@pytest.mark.parametrize("num_levels", [2, 256])
def test_gradients_are_finite_at_extreme_parameters(dtype, num_levels):
    log_scale_grid = [-20.0, -7.0, 0.0, 30.0, 80.0]
    loc_grid = [-100.0, -1.0, 0.0, 1.0, 100.0]
    top = num_levels - 1
    value_grid = sorted({0, 1, num_levels // 2, top - 1, top})
    combos = np.array(list(itertools.product(log_scale_grid, loc_grid, value_grid)))
    batch = len(combos)
    # Two components, three channels: component 0 / channel 0 meets every
    # (log_scale, loc, value) triple; the other slots meet rotations of it.
    log_scales = np.stack(
        [np.stack([np.roll(combos[:, 0], 7 * k + 3 * c) for c in range(3)], -1)
         for k in range(2)], 1)
    locs = np.stack(
        [np.stack([np.roll(combos[:, 1], 5 * k + 2 * c) for c in range(3)], -1)
         for k in range(2)], 1)
    values = np.stack([np.roll(combos[:, 2], c) for c in range(3)], -1)
    variables = dict(
        logits=tf.Variable(np.tile([[0.0, 1.0]], [batch, 1]), dtype=dtype),
        locs=tf.Variable(locs, dtype=dtype),
        log_scales=tf.Variable(log_scales, dtype=dtype),
        coefficients=tf.Variable(np.tile([[[0.5, -2.0, 3.0]]], [batch, 2, 1]),
                                 dtype=dtype),
    )
    dist = DiscretizedLogisticMixture(num_levels=num_levels, **variables)
    with tf.GradientTape() as tape:
        log_probs = dist.log_prob(tf.constant(values, dtype))
        loss = tf.reduce_sum(log_probs)
    gradients = tape.gradient(loss, variables)
    assert log_probs.shape == (batch,)
    assert np.all(np.isfinite(log_probs.numpy()))
    for name, gradient in gradients.items():
        assert gradient is not None, name
        assert np.all(np.isfinite(gradient.numpy())), name
    # The gradient is informative, not zeroed: at ordinary parameters the
    # scale gradient is non-zero somewhere.
    assert np.any(gradients["log_scales"].numpy() != 0.0)


def test_gradient_matches_reference_finite_differences():
    rng = np.random.default_rng(16)
    params = random_params(rng, [3], 2, 3, log_scale_range=(-3.0, 0.0))
    values = np.array([[0.0, 128.0, 255.0], [17.0, 3.0, 200.0], [255.0, 254.0, 1.0]])
    variables = {name: tf.Variable(value, dtype=tf.float64)
                 for name, value in params.items()}
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(DiscretizedLogisticMixture(**variables).log_prob(values))
    gradients = tape.gradient(loss, variables)
    step = 1e-6
    for name in params:
        flat = params[name].reshape(-1)
        numeric = np.zeros_like(flat)
        for i in range(flat.size):
            shifted = []
            for sign in (1.0, -1.0):
                moved = dict(params)
                changed = flat.copy()
                changed[i] += sign * step
                moved[name] = changed.reshape(params[name].shape)
                shifted.append(reference_log_prob(values, **moved, num_levels=256).sum())
            numeric[i] = (shifted[0] - shifted[1]) / (2 * step)
        np.testing.assert_allclose(gradients[name].numpy().reshape(-1), numeric,
                                   rtol=1e-5, atol=1e-6, err_msg=name)


# --------------------------------------------------------------------------
# 5. TFP integration.
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def image_params():
    rng = np.random.default_rng(20)
    return random_params(rng, [2, 3, 4], 5, 3)


@pytest.fixture(scope="module")
def image_values():
    rng = np.random.default_rng(21)
    return rng.integers(0, 256, size=(2, 3, 4, 3)).astype(np.float32)


def test_batch_and_event_shapes(image_params):
    dist = make_dist(image_params)
    assert dist.batch_shape == tf.TensorShape([2, 3, 4])
    assert dist.event_shape == tf.TensorShape([3])
    np.testing.assert_array_equal(dist.batch_shape_tensor().numpy(), [2, 3, 4])
    np.testing.assert_array_equal(dist.event_shape_tensor().numpy(), [3])
    assert dist.num_channels == 3 and dist.num_components == 5
    assert dist.num_levels == 256
    assert dist.sample(seed=[0, 1]).shape == (2, 3, 4, 3)


def test_independent_sums_pixel_log_probs(image_params, image_values):
    dist = make_dist(image_params)
    images = tfd.Independent(dist, reinterpreted_batch_ndims=2)
    assert images.batch_shape == tf.TensorShape([2])
    assert images.event_shape == tf.TensorShape([3, 4, 3])
    per_pixel = dist.log_prob(image_values).numpy()
    np.testing.assert_allclose(
        images.log_prob(image_values).numpy(), per_pixel.sum(axis=(1, 2)), rtol=1e-6
    )
    expected = reference_log_prob(image_values, **image_params, num_levels=256)
    np.testing.assert_allclose(per_pixel, expected, rtol=1e-4, atol=1e-5)
    sample = images.sample(seed=[4, 4])
    assert sample.shape == (2, 3, 4, 3)
    assert images.log_prob(sample).shape == (2,)


def test_tfd_sample_wrapper(image_params):
    dist = make_dist(image_params)
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
    dist = make_dist(image_params)
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
    params = random_params(rng, [4], 2, 1)
    dist = make_dist(params, num_levels=5)
    sliced = dist[1:3]
    assert sliced.num_levels == 5 and sliced.coefficients is None
    full = dist.log_prob(np.array([[2.0], [0.0], [4.0], [1.0]])).numpy()
    np.testing.assert_allclose(sliced.log_prob(np.array([[0.0], [4.0]])).numpy(),
                               full[1:3], rtol=1e-6)
    expected = reference_log_prob(np.array([[0.0], [4.0]]),
                                  **{k: None if v is None else v[1:3]
                                     for k, v in params.items()}, num_levels=5)
    np.testing.assert_allclose(full[1:3], expected, rtol=1e-5)


def test_parameter_broadcasting():
    rng = np.random.default_rng(23)
    params = random_params(rng, [3], 2, 3)
    # logits without batch dims, coefficients shared by a middle batch axis.
    logits = params["logits"][0]
    locs = np.broadcast_to(params["locs"][:, None], (3, 4, 2, 3))
    log_scales = params["log_scales"][:, None]
    coefficients = params["coefficients"][0]
    dist = make_dist(dict(logits=logits, locs=locs, log_scales=log_scales,
                          coefficients=coefficients))
    assert dist.batch_shape == tf.TensorShape([3, 4])
    values = rng.integers(0, 256, size=(3, 4, 3)).astype(np.float64)
    expected = reference_log_prob(
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
    dist = make_dist(image_params)
    eager = dist.log_prob(image_values).numpy()

    @tf.function
    def log_prob_and_sample(values, seed):
        inner = make_dist(image_params)
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
    dist = make_dist(image_params, dtype=tf.float64)
    assert dist.dtype == tf.float64
    assert dist.log_prob(image_values.astype(np.float64)).dtype == tf.float64
    assert dist.sample(seed=[1, 2]).dtype == tf.float64
    # NumPy's default float64 does not force float64; float32 is the default.
    assert DiscretizedLogisticMixture(**image_params).dtype == tf.float32


def test_integer_values_are_accepted():
    rng = np.random.default_rng(24)
    dist = make_dist(random_params(rng, [4], 2, 3))
    values = rng.integers(0, 256, size=(4, 3))
    np.testing.assert_allclose(
        dist.log_prob(tf.constant(values, tf.int32)).numpy(),
        dist.log_prob(values.astype(np.float32)).numpy(), rtol=1e-7,
    )


def test_missing_coefficients_mean_no_dependence():
    rng = np.random.default_rng(25)
    params = random_params(rng, [6], 3, 3)
    values = rng.integers(0, 256, size=(6, 3)).astype(np.float32)
    zero = dict(params, coefficients=np.zeros_like(params["coefficients"]))
    without = dict(params, coefficients=None)
    np.testing.assert_allclose(make_dist(without).log_prob(values).numpy(),
                               make_dist(zero).log_prob(values).numpy(), rtol=1e-6)


def test_sampling_without_coefficients_for_several_channels():
    rng = np.random.default_rng(26)
    params = random_params(rng, [6], 3, 3)
    zero = dict(params, coefficients=np.zeros_like(params["coefficients"]))
    without = dict(params, coefficients=None)
    np.testing.assert_array_equal(
        make_dist(without).sample(10, seed=[2, 2]).numpy(),
        make_dist(zero).sample(10, seed=[2, 2]).numpy(),
    )


# --------------------------------------------------------------------------
# 6. Argument checks.
# --------------------------------------------------------------------------


def small_params(k=2, c=3):
    return dict(logits=tf.zeros([k]), locs=tf.zeros([k, c]),
                log_scales=tf.zeros([k, c]),
                coefficients=tf.zeros([k, c * (c - 1) // 2]) if c > 1 else None)


@pytest.mark.parametrize("num_levels", [0, 1, 257, 1000, -5, 3.0, 256.0, True, "256", None])
def test_bad_num_levels_raise(num_levels):
    with pytest.raises(ValueError, match="num_levels"):
        DiscretizedLogisticMixture(**small_params(), num_levels=num_levels)


@pytest.mark.parametrize("num_levels", [2, 3, 256])
def test_good_num_levels_are_accepted(num_levels):
    dist = DiscretizedLogisticMixture(**small_params(), num_levels=num_levels)
    assert dist.num_levels == num_levels


@pytest.mark.parametrize(
    "name, shape",
    [("logits", [3]), ("log_scales", [2, 2]), ("log_scales", [3, 3]),
     ("coefficients", [2, 2]), ("coefficients", [3, 3])],
)
def test_mismatched_shapes_raise(name, shape):
    params = small_params()
    params[name] = tf.zeros(shape)
    with pytest.raises(ValueError, match=name):
        DiscretizedLogisticMixture(**params)


def test_rank_deficient_locs_raise():
    with pytest.raises(ValueError, match="locs"):
        DiscretizedLogisticMixture(tf.zeros([2]), tf.zeros([2]), tf.zeros([2]))


@pytest.mark.parametrize("name", ["logits", "locs", "log_scales", "coefficients"])
def test_integer_parameters_raise_type_error(name):
    params = small_params()
    params[name] = tf.cast(params[name], tf.int32)
    with pytest.raises(TypeError, match=name):
        DiscretizedLogisticMixture(**params)


def test_mixed_float_dtypes_raise_type_error():
    params = small_params()
    params["log_scales"] = tf.zeros([2, 3], tf.float64)
    with pytest.raises(TypeError, match="log_scales"):
        DiscretizedLogisticMixture(**params)


@pytest.mark.parametrize(
    "values", [[0.5, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, 256.0], [3.0, 2.0, 1e6]]
)
def test_validate_args_rejects_bad_values(values):
    strict = DiscretizedLogisticMixture(**small_params(), validate_args=True)
    with pytest.raises(tf.errors.InvalidArgumentError):
        strict.log_prob(values)
    lenient = DiscretizedLogisticMixture(**small_params())
    assert lenient.log_prob(values).shape == ()


def test_validate_args_accepts_valid_values_and_respects_num_levels():
    strict = DiscretizedLogisticMixture(**small_params(), num_levels=4,
                                        validate_args=True)
    assert np.isfinite(strict.log_prob([0.0, 3.0, 2.0]).numpy())
    with pytest.raises(tf.errors.InvalidArgumentError):
        strict.log_prob([0.0, 4.0, 2.0])


@pytest.mark.parametrize("validate_args", [False, True])
def test_assertions_only_with_validate_args(validate_args):
    @tf.function
    def log_prob(values):
        dist = DiscretizedLogisticMixture(**small_params(),
                                          validate_args=validate_args)
        return dist.log_prob(values)

    graph = log_prob.get_concrete_function(
        tf.TensorSpec([None, 3], tf.float32)
    ).graph
    # In a graph, tf.debugging assertions are Assert ops inside If branches.
    assertion_types = {"Assert", "If", "StatelessIf"}
    found = [op for op in graph.get_operations() if op.type in assertion_types]
    assert bool(found) == validate_args
    bad = tf.constant([[0.5, 0.0, 300.0]])
    if validate_args:
        with pytest.raises(tf.errors.InvalidArgumentError):
            log_prob(bad)
    else:
        assert np.isfinite(log_prob(bad).numpy()).all()


def test_validate_args_rejects_non_finite_parameters():
    params = small_params()
    params["locs"] = tf.constant([[0.0, np.nan, 0.0], [0.0, 0.0, 0.0]])
    with pytest.raises(tf.errors.InvalidArgumentError, match="locs"):
        DiscretizedLogisticMixture(**params, validate_args=True)
    DiscretizedLogisticMixture(**params)  # no check without validate_args


# --------------------------------------------------------------------------
# Numerical edge cases: very narrow, extremely narrow and wide components.
# --------------------------------------------------------------------------


def test_narrow_components_stay_normalized_in_float32():
    rng = np.random.default_rng(30)
    count = 30
    locs = rng.uniform(-1.0, 1.0, size=(count, 1, 1))
    log_scales = np.repeat([-15.0, -20.0, -30.0], count // 3)[:, None, None]
    dist = make_dist(dict(logits=np.zeros([count, 1]), locs=locs,
                          log_scales=log_scales, coefficients=None))
    probs, log_probs = pmf_table(dist, 256, 1)
    assert np.all(log_probs <= 1e-6)
    np.testing.assert_allclose(probs.sum(axis=0), 1.0, atol=1e-5)


def test_log_prob_is_finite_for_log_scales_beyond_float32_exp_range():
    dist = make_dist(dict(logits=np.zeros([1]), locs=np.zeros([1, 1]),
                          log_scales=np.full([1, 1], -100.0), coefficients=None))
    log_probs = dist.log_prob(np.array([[0.0], [127.0], [128.0], [255.0]])).numpy()
    assert np.all(np.isfinite(log_probs))


def test_moderately_wide_components_are_exact_in_float64():
    rng = np.random.default_rng(31)
    # d = delta / scale between 1e-3 and 1e-2, i.e. log_scale in [-0.94, 1.36].
    count = 12
    params = dict(logits=np.zeros([count, 1]),
                  locs=rng.uniform(-1.0, 1.0, size=(count, 1, 1)),
                  log_scales=np.linspace(-0.94, 1.3, count)[:, None, None],
                  coefficients=None)
    probs, log_probs = pmf_table(make_dist(params, dtype=tf.float64), 256, 1,
                                 tf.float64)
    np.testing.assert_allclose(probs.sum(axis=0), 1.0, rtol=0, atol=1e-13)
    expected = reference_log_prob(np.arange(256.0)[:, None, None], **params,
                                  num_levels=256)
    np.testing.assert_allclose(log_probs, expected, rtol=1e-12)
