"""DiscretizedLogisticMixture: the pmf sums to one and equals the reference,
in the tails, for wide and for extremely narrow components.

Numbers are checked against the independent float64 NumPy/SciPy reference
in tests/helpers.py (`mixture_log_prob`), so a shared mistake in the formula
would not go unnoticed. Everything runs on the CPU with small shapes.
"""

import math

import numpy as np
import pytest
import tensorflow as tf

from tests import helpers


# --------------------------------------------------------------------------
# Normalization.
# --------------------------------------------------------------------------


def extreme_single_channel_params(rng, count):
    """K=3, C=1 parameter sets from the ordinary to the extreme."""
    params = helpers.random_mixture_params(rng, [count], 3, 1, log_scale_range=(-7.0, 10.0))
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
    probs, log_probs = helpers.pmf_table(helpers.make_mixture(params, dtype=dtype), 256, 1, dtype)
    assert np.all(np.isfinite(log_probs))
    assert np.all(log_probs <= 0.0)
    np.testing.assert_allclose(probs.sum(axis=0), 1.0, rtol=0, atol=tolerance)


@pytest.mark.parametrize("num_levels", [2, 3, 17])
def test_single_channel_pmf_sums_to_one_for_few_levels(num_levels):
    rng = np.random.default_rng(num_levels)
    params = extreme_single_channel_params(rng, 50)
    probs, _ = helpers.pmf_table(
        helpers.make_mixture(params, num_levels, tf.float64), num_levels, 1, tf.float64
    )
    np.testing.assert_allclose(probs.sum(axis=0), 1.0, rtol=0, atol=1e-10)


@pytest.mark.parametrize("num_levels", [4, 5])
@pytest.mark.parametrize(
    "dtype, tolerance", [(tf.float32, 1e-5), (tf.float64, 1e-12)]
)
def test_three_channel_joint_pmf_sums_to_one(num_levels, dtype, tolerance):
    rng = np.random.default_rng(10 + num_levels)
    params = helpers.random_mixture_params(
        rng, [20], 4, 3, loc_range=(-2.0, 2.0), log_scale_range=(-5.0, 3.0),
        coefficient_range=(-3.0, 3.0),
    )
    probs, _ = helpers.pmf_table(
        helpers.make_mixture(params, num_levels, dtype), num_levels, 3, dtype
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
    params = helpers.random_mixture_params(rng, [30], 3, 2, loc_range=(-3.0, 3.0),
                           coefficient_range=(-4.0, 4.0))
    for dtype, tolerance in [(tf.float32, 1e-6), (tf.float64, 1e-13)]:
        probs, _ = helpers.pmf_table(helpers.make_mixture(params, 2, dtype), 2, 2, dtype)
        np.testing.assert_allclose(probs.sum(axis=0), 1.0, rtol=0, atol=tolerance)
        expected = np.exp(
            helpers.mixture_log_prob(
                helpers.all_pixel_values(2, 2)[:, None], num_levels=2, **params
            )
        )
        np.testing.assert_allclose(probs, expected, rtol=1e-5, atol=1e-7)



# --------------------------------------------------------------------------
# Equality with the reference.
# --------------------------------------------------------------------------


@pytest.mark.parametrize("num_channels", [1, 3])
@pytest.mark.parametrize("num_components", [1, 2, 5])
def test_log_prob_matches_reference(num_channels, num_components):
    rng = np.random.default_rng(100 * num_channels + num_components)
    batch = 40
    params = helpers.random_mixture_params(
        rng, [batch], num_components, num_channels,
        loc_range=(-2.0, 2.0), log_scale_range=(-5.0, 2.0),
        coefficient_range=(-1.5, 1.5),
    )
    values = rng.integers(0, 256, size=(batch, num_channels)).astype(np.float64)
    values[:4] = [[0.0], [255.0], [1.0], [254.0]]  # edges and their neighbours
    # Half of the values near a component's mean so that peaks are covered.
    near = (params["locs"][batch // 2:, 0] + 1.0) * 127.5
    values[batch // 2:] = np.clip(np.round(near), 0, 255)
    expected = helpers.mixture_log_prob(values, **params, num_levels=256)

    actual32 = helpers.make_mixture(params).log_prob(tf.constant(values, tf.float32))
    np.testing.assert_allclose(actual32.numpy(), expected, rtol=1e-4, atol=1e-5)
    actual64 = helpers.make_mixture(params, dtype=tf.float64).log_prob(values)
    assert actual64.dtype == tf.float64
    np.testing.assert_allclose(actual64.numpy(), expected, rtol=1e-9, atol=1e-12)


def test_reference_itself_normalizes():
    # Guards the reference (and so every comparison with it) against a slip.
    rng = np.random.default_rng(7)
    params = helpers.random_mixture_params(rng, [5], 3, 3, log_scale_range=(-4.0, 1.0))
    values = helpers.all_pixel_values(4, 3)[:, None]
    total = np.exp(helpers.mixture_log_prob(values, **params, num_levels=4)).sum(axis=0)
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
    expected = helpers.mixture_log_prob(values[:, None], **params, num_levels=256)
    # Beyond where a naive float32 difference of sigmoids cancels to zero.
    assert np.all(expected < -25.0)
    actual = helpers.make_mixture(params, dtype=dtype).log_prob(values[:, None]).numpy()
    np.testing.assert_allclose(actual, expected, rtol=1e-3)


def test_far_tail_mixture_keeps_the_dominant_component():
    # The value is in the far tail of the heavy component and in the far-far
    # tail of the light one; the mixture must not collapse to -inf.
    params = dict(logits=np.array([[5.0, -5.0]]),
                  locs=np.array([[[0.8], [-0.9]]]),
                  log_scales=np.array([[[-5.0], [-6.0]]]), coefficients=None)
    values = np.array([[5.0]])
    expected = helpers.mixture_log_prob(values, **params, num_levels=256)
    actual = helpers.make_mixture(params).log_prob(values).numpy()
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
    dist = helpers.make_mixture(params, num_levels, dtype)
    values = np.array([[1.0, 100.0, 254.0], [128.0, 7.0, 200.0],
                       [0.0, 255.0, 0.0], [0.0, 128.0, 255.0]])
    expected = np.array([3 * interior, 3 * interior, 3 * math.log(0.5),
                         2 * math.log(0.5) + interior])
    np.testing.assert_allclose(
        dist.log_prob(values).numpy(), expected, rtol=1e-6
    )



# --------------------------------------------------------------------------
# Numerical edge cases: very narrow, extremely narrow and wide components.
# --------------------------------------------------------------------------


def test_narrow_components_stay_normalized_in_float32():
    rng = np.random.default_rng(30)
    count = 30
    locs = rng.uniform(-1.0, 1.0, size=(count, 1, 1))
    log_scales = np.repeat([-15.0, -20.0, -30.0], count // 3)[:, None, None]
    dist = helpers.make_mixture(dict(logits=np.zeros([count, 1]), locs=locs,
                          log_scales=log_scales, coefficients=None))
    probs, log_probs = helpers.pmf_table(dist, 256, 1)
    assert np.all(log_probs <= 1e-6)
    np.testing.assert_allclose(probs.sum(axis=0), 1.0, atol=1e-5)


def test_log_prob_is_finite_for_log_scales_beyond_float32_exp_range():
    dist = helpers.make_mixture(dict(logits=np.zeros([1]), locs=np.zeros([1, 1]),
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
    probs, log_probs = helpers.pmf_table(helpers.make_mixture(params, dtype=tf.float64), 256, 1,
                                 tf.float64)
    np.testing.assert_allclose(probs.sum(axis=0), 1.0, rtol=0, atol=1e-13)
    expected = helpers.mixture_log_prob(np.arange(256.0)[:, None, None], **params,
                                  num_levels=256)
    np.testing.assert_allclose(log_probs, expected, rtol=1e-12)
