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


def test_gradient_is_zero_below_the_log_scale_floor():
    # float32 log-scales are floored at -80 (exp(80) must stay finite): the
    # floor passes the gradient at and above it and stops it below. The
    # means sit 1e-35 above the bin's lower edge (0 for value 128), about
    # half a scale at log-scale -80, so the gradient there is not negligible.
    # One component per batch element: each log-scale's gradient is its own.
    log_scales = tf.Variable([[[-100.0]], [[-80.0]], [[-79.0]]])
    dist = DiscretizedLogisticMixture(
        logits=tf.zeros([3, 1]), locs=tf.fill([3, 1, 1], 1e-35),
        log_scales=log_scales, num_levels=256,
    )
    with tf.GradientTape() as tape:
        log_probs = dist.log_prob([[128.0], [128.0], [128.0]])
        loss = tf.reduce_sum(log_probs)
    gradient = tape.gradient(loss, log_scales).numpy().reshape(-1)
    # Below the floor the component is the floor's.
    assert log_probs.numpy()[0] == log_probs.numpy()[1]
    assert gradient[0] == 0.0
    assert gradient[1] != 0.0 and gradient[2] != 0.0
    assert np.all(np.isfinite(gradient))


def test_log_prob_and_its_gradient_select_without_broadcasting_kernels():
    # TensorFlow's `SelectV2` (`tf.where`, and the gradients of `tf.maximum`
    # and `tf.minimum`) indexes every element through its broadcasting path on
    # CPU, about 9x the time of `Select` at the likelihood's sizes: with it the
    # likelihood's forward and backward took 21.6 ms of a 32x32x3 batch of 16,
    # without it 15.9 ms. The graph must keep to `Select`, on any machine.
    rng = np.random.default_rng(3)
    params = helpers.random_mixture_params(rng, [2, 4, 4], 5, 3)
    variables = {name: tf.Variable(value, dtype=tf.float32)
                 for name, value in params.items()}
    values = tf.constant(rng.integers(0, 256, size=(2, 4, 4, 3)), tf.float32)

    @tf.function
    def loss_and_gradients(values):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(DiscretizedLogisticMixture(**variables).log_prob(values))
        return loss, tape.gradient(loss, variables)

    graph = loss_and_gradients.get_concrete_function(values).graph
    # The selects on every (pixel, component, channel); `reduce_logsumexp`'s
    # one on every pixel is 15 times smaller.
    full_size = [
        op for op in graph.get_operations()
        if op.outputs and op.outputs[0].shape.as_list()[-2:] == [5, 3]
    ]
    op_types = {op.type for op in full_size}
    assert "Select" in op_types
    assert not op_types & {"SelectV2", "Maximum", "Minimum"}, sorted(op_types)
