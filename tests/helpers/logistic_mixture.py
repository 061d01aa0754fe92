"""The PixelCNN++ likelihood in float64 NumPy/SciPy, independent of the package."""

import itertools
import math

import numpy as np
import scipy.special
import scipy.stats
import tensorflow as tf

from pixel_keras.distributions import DiscretizedLogisticMixture

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


def mixture_log_prob(values, logits, locs, log_scales, coefficients, num_levels):
    """float64 log pmf of the discretized logistic mixture; values `[..., C]`,
    parameters `[..., K(, C)]`."""
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


def mixture_channel_cdf(loc, log_scale, num_levels):
    """CDF `[L]` of one discretized logistic channel: P(V <= v)."""
    top = num_levels - 1
    upper_edges = (2.0 * np.arange(num_levels) - num_levels + 2.0) / top
    cdf = scipy.stats.logistic.cdf((upper_edges - loc) / math.exp(log_scale))
    cdf[-1] = 1.0
    return cdf


def random_mixture_params(rng, batch_shape, num_components, num_channels, *,
                          loc_range=(-1.0, 1.0), log_scale_range=(-5.0, 2.0),
                          coefficient_range=(-1.0, 1.0), logit_scale=2.0):
    """Random parameters of a discretized logistic mixture, as NumPy."""
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


def make_mixture(params, num_levels=256, dtype=tf.float32, **kwargs):
    """A `DiscretizedLogisticMixture` of NumPy parameters."""
    converted = {
        name: None if value is None else tf.constant(value, dtype)
        for name, value in params.items()
    }
    return DiscretizedLogisticMixture(num_levels=num_levels, **converted, **kwargs)


def all_pixel_values(num_levels, num_channels):
    """Every joint value of a pixel, `[L**C, C]`, the first channel slowest."""
    grid = itertools.product(range(num_levels), repeat=num_channels)
    return np.array(list(grid), np.float64)


def pmf_table(dist, num_levels, num_channels, dtype=tf.float32):
    """pmf of every joint value for every batch member: `[L**C, *batch]`."""
    values = all_pixel_values(num_levels, num_channels)
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
