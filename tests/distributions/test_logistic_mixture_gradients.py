"""DiscretizedLogisticMixture: finite gradients at extreme parameters, equal
to finite differences of the reference.

Numbers are checked against the independent float64 NumPy/SciPy reference
in tests/helpers.py (`mixture_log_prob`), so a shared mistake in the formula
would not go unnoticed. Everything runs on the CPU with small shapes.
"""

import itertools

import numpy as np
import pytest
import tensorflow as tf

from pixel_keras.distributions import DiscretizedLogisticMixture
from tests import helpers


# --------------------------------------------------------------------------
# Gradients at extreme parameters.
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
    params = helpers.random_mixture_params(rng, [3], 2, 3, log_scale_range=(-3.0, 0.0))
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
                shifted.append(helpers.mixture_log_prob(values, **moved, num_levels=256).sum())
            numeric[i] = (shifted[0] - shifted[1]) / (2 * step)
        np.testing.assert_allclose(gradients[name].numpy().reshape(-1), numeric,
                                   rtol=1e-5, atol=1e-6, err_msg=name)
