"""DiscretizedLogisticMixture.channel_probs: the pmf of one channel given
the earlier ones, which compression codes with, against the float64 NumPy
reference of the joint pmf (tests/helpers, `mixture_log_prob`)."""

import numpy as np
import pytest
import scipy.special
import tensorflow as tf

from tests import helpers


def _reference_conditional(params, num_levels, earlier):
    """float64 `p(j | earlier)` for every j: the marginal of the first
    `c + 1` channels at `(earlier, j)`, normalized over j. `earlier` is
    `(B, c)`; returns `(B, num_levels)`."""
    channel = earlier.shape[-1]
    marginal = dict(
        logits=params["logits"],
        locs=params["locs"][..., : channel + 1],
        log_scales=params["log_scales"][..., : channel + 1],
        coefficients=None
        if params["coefficients"] is None or channel == 0
        else params["coefficients"][..., : channel * (channel + 1) // 2],
    )
    levels = np.arange(num_levels, dtype=np.float64)
    values = np.concatenate(
        [
            np.broadcast_to(earlier[None], (num_levels, *earlier.shape)),
            np.broadcast_to(levels[:, None, None], (num_levels, earlier.shape[0], 1)),
        ],
        -1,
    )
    log_joint = helpers.mixture_log_prob(values, num_levels=num_levels, **marginal).T
    return np.exp(log_joint - scipy.special.logsumexp(log_joint, axis=-1, keepdims=True))


@pytest.mark.parametrize("num_levels", [2, 17, 256])
@pytest.mark.parametrize("num_channels", [1, 3])
def test_channel_probs_equal_the_reference_conditional(num_levels, num_channels):
    rng = np.random.default_rng(num_levels + num_channels)
    params = helpers.random_mixture_params(
        rng, [40], 5, num_channels, loc_range=(-1.5, 1.5), log_scale_range=(-6.0, 1.0),
        coefficient_range=(-2.0, 2.0),
    )
    # Narrow components on a bin edge and far outside [-1, 1].
    params["locs"][0], params["log_scales"][0] = 1.0 / (num_levels - 1), -7.0
    params["locs"][1] = 40.0
    params["locs"][2] = -40.0
    distribution = helpers.make_mixture(params, num_levels)
    values = rng.integers(0, num_levels, [40, num_channels]).astype(np.float64)
    for channel in range(num_channels):
        earlier = values[:, :channel]
        probs = distribution.channel_probs(channel, earlier.astype(np.float32)).numpy()
        assert probs.shape == (40, num_levels) and probs.dtype == np.float32
        assert np.all(probs >= 0.0)
        np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=0, atol=2e-6)
        expected = _reference_conditional(params, num_levels, earlier)
        # float32 CDF differences: about 1e-7 absolute, and relative in
        # the tails, which neither difference cancels in.
        np.testing.assert_allclose(probs, expected, rtol=2e-4, atol=3e-7)


def test_the_conditionals_multiply_to_the_joint_pmf():
    """The chain rule over all 4**3 values of a 3-channel pixel at 4 levels:
    p(r) p(g | r) p(b | r, g) = exp(log_prob(r, g, b)), in float64."""
    rng = np.random.default_rng(7)
    params = helpers.random_mixture_params(
        rng, [6], 4, 3, loc_range=(-2.0, 2.0), log_scale_range=(-4.0, 1.0),
        coefficient_range=(-3.0, 3.0),
    )
    distribution = helpers.make_mixture(params, 4, tf.float64)
    values = helpers.all_pixel_values(4, 3)  # (64, 3)
    product = np.ones([64, 6])
    for channel in range(3):
        for index, value in enumerate(values):
            earlier = np.broadcast_to(value[:channel], (6, channel))
            probs = distribution.channel_probs(channel, earlier).numpy()
            product[index] *= probs[:, int(value[channel])]
    joint = np.exp(helpers.mixture_log_prob(values[:, None], num_levels=4, **params))
    np.testing.assert_allclose(product, joint, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(product.sum(0), 1.0, rtol=0, atol=1e-12)


def test_a_channel_outside_the_pixel_is_refused():
    params = helpers.random_mixture_params(np.random.default_rng(0), [2], 2, 1)
    distribution = helpers.make_mixture(params, 17)
    with pytest.raises(ValueError, match=r"`channel` in \[0, 1\). Received: channel=1"):
        distribution.channel_probs(1, np.zeros([2, 1], np.float32))


@pytest.mark.parametrize("loc", [-0.9, 0.9])
def test_both_tails_keep_their_relative_precision(loc):
    """A narrow component far from one end: the bins of that end have
    masses down to 1e-17, which a difference of CDFs near 1 (or of survival
    functions near 1) would round to 0."""
    params = dict(
        logits=np.zeros([1, 1]),
        locs=np.full([1, 1, 1], loc),
        log_scales=np.full([1, 1, 1], -3.0),
        coefficients=None,
    )
    probs = helpers.make_mixture(params, 256).channel_probs(0, np.zeros([1, 0], np.float32))
    expected = _reference_conditional(params, 256, np.zeros([1, 0]))
    far = expected > 1e-30
    assert far.sum() == 256 and expected.min() < 1e-15
    np.testing.assert_allclose(probs.numpy()[far], expected[far], rtol=1e-4)
