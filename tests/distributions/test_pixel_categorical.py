"""Per-sub-pixel categorical likelihood and its inverse-CDF sampling."""

import itertools

import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

from pixel_keras.distributions.pixel_categorical import categorical_from_uniforms
from pixel_keras.distributions.pixel_categorical import channel_logits
from pixel_keras.distributions.pixel_categorical import cumulative_sum
from pixel_keras.distributions.pixel_categorical import num_logits
from pixel_keras.distributions.pixel_categorical import pixel_categorical

BATCH = (2, 3)
CASES = [(1, 17), (2, 4), (3, 2), (3, 5)]


def _outputs(num_channels, num_levels, seed=0, scale=2.0):
    size = num_logits(num_channels, num_levels)
    rng = np.random.default_rng(seed)
    return (scale * rng.normal(size=(*BATCH, size))).astype("float32")


def _reference_log_prob(outputs, values, num_levels, temperature=1.0):
    """Sum over channels of the log-softmax of channel c's logits at its value.

    Channel c owns logits `[c * L, (c + 1) * L)`; a Bernoulli logit `l` is
    the two-way softmax of `[0, l]`.
    """
    outputs = np.asarray(outputs, np.float64) / temperature
    values = np.asarray(values).astype(int)
    total = np.zeros(np.broadcast_shapes(outputs.shape[:-1], values.shape[:-1]))
    for c in range(values.shape[-1]):
        if num_levels == 2:
            logits = np.stack([np.zeros_like(outputs[..., c]), outputs[..., c]], -1)
        else:
            logits = outputs[..., c * num_levels : (c + 1) * num_levels]
        log_softmax = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
        log_softmax = np.broadcast_to(log_softmax, (*total.shape, num_levels))
        value = np.broadcast_to(values[..., c], total.shape)
        total = total + np.take_along_axis(log_softmax, value[..., None], -1)[..., 0]
    return total


def _inverse_cdf(logits, u):
    """The first category whose cumulative probability exceeds u (float64)."""
    logits = np.asarray(logits, np.float64)
    probs = np.exp(logits - logits.max())
    probs /= probs.sum()
    cumulative = 0.0
    for k, p in enumerate(probs):
        cumulative += p
        if u < cumulative:
            return k
    return len(probs) - 1


def test_num_logits():
    assert num_logits(1, 256) == 256
    assert num_logits(3, 256) == 768
    assert num_logits(3, 2) == 3
    assert num_logits(2, 4) == 8


@pytest.mark.parametrize("num_channels, num_levels", CASES)
def test_pmf_sums_to_one_over_every_pixel_value(num_channels, num_levels):
    outputs = _outputs(num_channels, num_levels)
    distribution = pixel_categorical(outputs, num_channels, num_levels)
    grid = np.array(
        list(itertools.product(range(num_levels), repeat=num_channels)), np.float32
    )
    assert len(grid) == num_levels**num_channels
    values = grid.reshape(-1, 1, 1, num_channels)
    probs = distribution.prob(values).numpy()
    assert probs.shape == (len(grid), *BATCH)
    assert np.all(probs >= 0)
    np.testing.assert_allclose(probs.sum(axis=0), 1.0, atol=1e-5)


@pytest.mark.parametrize("num_channels, num_levels", CASES)
def test_log_prob_matches_log_softmax_reference(num_channels, num_levels):
    outputs = _outputs(num_channels, num_levels, seed=1)
    rng = np.random.default_rng(2)
    values = rng.integers(0, num_levels, size=(*BATCH, num_channels)).astype("float32")
    distribution = pixel_categorical(outputs, num_channels, num_levels)
    np.testing.assert_allclose(
        distribution.log_prob(values).numpy(),
        _reference_log_prob(outputs, values, num_levels),
        rtol=1e-5,
        atol=1e-5,
    )


@pytest.mark.parametrize("num_channels, num_levels", [(3, 2), (2, 4), (1, 17)])
@pytest.mark.parametrize("temperature", [0.5, 2.0, "tensor"])
def test_temperature_divides_logits(num_channels, num_levels, temperature):
    outputs = _outputs(num_channels, num_levels, seed=3)
    rng = np.random.default_rng(4)
    values = rng.integers(0, num_levels, size=(*BATCH, num_channels)).astype("float32")
    value = 0.7 if temperature == "tensor" else temperature
    if temperature == "tensor":
        temperature = tf.constant(value)
    tempered = pixel_categorical(outputs, num_channels, num_levels, temperature)
    expected = _reference_log_prob(outputs, values, num_levels, temperature=value)
    np.testing.assert_allclose(tempered.log_prob(values).numpy(), expected, rtol=1e-5, atol=1e-5)
    untempered = pixel_categorical(outputs, num_channels, num_levels)
    assert np.abs(untempered.log_prob(values).numpy() - expected).max() > 1e-2


def test_channel_logits_layout():
    outputs = np.arange(2 * 3 * 4, dtype="float32").reshape(2, 12)
    logits = channel_logits(outputs, 3, 4).numpy()
    assert logits.shape == (2, 3, 4)
    np.testing.assert_array_equal(logits[1, 2], [20, 21, 22, 23])
    bernoulli = channel_logits(np.array([[1.0, -2.0, 3.0]], "float32"), 3, 2).numpy()
    np.testing.assert_array_equal(bernoulli, [[[0, 1], [0, -2], [0, 3]]])


@pytest.mark.parametrize("num_channels, num_levels", CASES)
def test_event_and_batch_shapes(num_channels, num_levels):
    outputs = _outputs(num_channels, num_levels)
    distribution = pixel_categorical(outputs, num_channels, num_levels)
    assert distribution.event_shape == (num_channels,)
    assert distribution.batch_shape == BATCH
    samples = distribution.sample(5, seed=1).numpy()
    assert samples.shape == (5, *BATCH, num_channels)
    assert samples.dtype == np.float32
    assert np.all((samples >= 0) & (samples <= num_levels - 1))
    np.testing.assert_array_equal(samples, np.round(samples))
    assert distribution.log_prob(samples).shape == (5, *BATCH)


def test_categorical_from_uniforms_is_the_inverse_cdf():
    rng = np.random.default_rng(5)
    logits = (2.0 * rng.normal(size=(3000, 7))).astype("float32")
    uniforms = rng.random(3000).astype("float32")
    uniforms[:10] = 0.0
    values = categorical_from_uniforms(tf.constant(logits), tf.constant(uniforms)).numpy()
    assert values.shape == (3000,) and values.dtype == np.float32
    expected = np.array([_inverse_cdf(l, u) for l, u in zip(logits, uniforms)])
    mismatched = np.nonzero(values != expected)[0]
    # float32 against float64 may only disagree on a cumulative boundary.
    for n in mismatched:
        probs = np.exp(logits[n].astype(np.float64))
        cumulative = np.cumsum(probs / probs.sum())
        assert np.abs(cumulative - uniforms[n]).min() < 1e-6, (n, values[n], expected[n])
    assert len(mismatched) <= 3
    # The same uniform always gives the same value.
    again = categorical_from_uniforms(tf.constant(logits), tf.constant(uniforms)).numpy()
    np.testing.assert_array_equal(again, values)


def test_categorical_from_uniforms_frequencies_match_softmax():
    logits = np.array([0.3, -1.0, 2.0, 0.0, -0.5, 1.2], np.float32)
    probs = np.exp(logits.astype(np.float64))
    probs /= probs.sum()
    count = 200_000
    uniforms = np.random.default_rng(6).random(count).astype("float32")
    values = categorical_from_uniforms(
        tf.constant(np.tile(logits, (count, 1))), tf.constant(uniforms)
    ).numpy()
    observed = np.bincount(values.astype(int), minlength=len(logits))
    assert observed.sum() == count
    _, p_value = stats.chisquare(observed, count * probs)
    assert p_value > 1e-3, (observed, count * probs)


def _uniform_grid():
    return np.concatenate(
        [
            [0.0, 1e-9, 1e-7],
            np.linspace(0.0, 1.0, 2001, endpoint=False),
            [0.5, 0.9999],
        ]
    ).astype("float32")


@pytest.mark.parametrize("zero", [0, 2, 3])
def test_zero_probability_category_is_never_drawn(zero):
    rng = np.random.default_rng(7)
    uniforms = _uniform_grid()
    logits = rng.normal(size=(len(uniforms), 6)).astype("float32")
    logits[:, zero] = -1e9
    values = categorical_from_uniforms(tf.constant(logits), tf.constant(uniforms)).numpy()
    assert not np.any(values == zero)
    # Every other category is still drawn somewhere on the grid.
    assert set(values.astype(int)) == set(range(6)) - {zero}


def test_zero_probability_categories_at_both_ends_at_u_zero():
    logits = np.array([[-1e9, -1e9, 0.0, 1.0, -1e9]], np.float32)
    values = categorical_from_uniforms(tf.constant(logits), tf.constant([0.0])).numpy()
    np.testing.assert_array_equal(values, [2.0])


def test_zero_probability_last_category_is_never_drawn_near_u_one():
    rng = np.random.default_rng(8)
    logits = (3.0 * rng.normal(size=(2000, 5))).astype("float32")
    logits[:, -1] = -1e9
    uniforms = np.full(2000, 1.0 - 2.0**-23, np.float32)
    values = categorical_from_uniforms(tf.constant(logits), tf.constant(uniforms)).numpy()
    assert not np.any(values == 4)


# --- The cumulative sum in blocks (what the XLA-compiled cached loops draw with) ---


@pytest.mark.parametrize("levels", [7, 16, 17, 100, 256])
@pytest.mark.parametrize("leading", [(3,), (2, 5)])
@pytest.mark.parametrize("compiled", [False, True])
def test_cumulative_sum_in_blocks_is_the_cumulative_sum(levels, leading, compiled):
    rng = np.random.default_rng(levels)
    probs = rng.random((*leading, levels)).astype("float32")
    probs /= probs.sum(-1, keepdims=True)
    function = tf.function(lambda p: cumulative_sum(p, in_blocks=True), jit_compile=compiled)
    actual = function(tf.constant(probs)).numpy()
    assert actual.shape == probs.shape
    np.testing.assert_allclose(actual, np.cumsum(probs.astype(np.float64), -1), rtol=2e-6, atol=1e-7)
    # Nondecreasing within each block; at a block's first category the
    # offset, summed in another order, may sit a rounding step lower.
    steps = np.diff(actual, axis=-1)
    block_starts = (np.arange(1, levels) % 16 == 0) & (levels > 16)
    assert np.all(steps[..., ~block_starts] >= 0)
    assert np.all(steps[..., block_starts] >= -np.spacing(np.float32(1)))


def test_cumulative_sum_in_blocks_repeats_itself_after_a_zero_within_a_block():
    rng = np.random.default_rng(9)
    probs = rng.random((64, 256)).astype("float32")
    # Zeros everywhere but at the blocks' first categories, and runs of them.
    inside = [k for k in range(256) if k % 16 and rng.random() < 0.5]
    probs[:, inside] = 0.0
    probs /= probs.sum(-1, keepdims=True)
    function = tf.function(lambda p: cumulative_sum(p, in_blocks=True), jit_compile=True)
    actual = function(tf.constant(probs)).numpy()
    np.testing.assert_array_equal(actual[:, inside], actual[:, np.array(inside) - 1])


@pytest.mark.parametrize("compiled", [False, True])
def test_categorical_from_uniforms_in_blocks_is_the_inverse_cdf(compiled):
    rng = np.random.default_rng(10)
    logits = (3.0 * rng.normal(size=(2000, 256))).astype("float32")
    # Zero-probability categories inside blocks are never drawn.
    zeros = [3, 40, 41, 255]
    logits[:, zeros] = -1e9
    uniforms = rng.random(2000).astype("float32")
    uniforms[:5] = 0.0
    function = tf.function(
        lambda l, u: categorical_from_uniforms(l, u, scan_in_blocks=True), jit_compile=compiled
    )
    values = function(tf.constant(logits), tf.constant(uniforms)).numpy()
    expected = np.array([_inverse_cdf(l, u) for l, u in zip(logits, uniforms)])
    mismatched = np.nonzero(values != expected)[0]
    for n in mismatched:
        probs = np.exp(logits[n].astype(np.float64) - logits[n].max())
        cumulative = np.cumsum(probs / probs.sum())
        assert np.abs(cumulative - uniforms[n]).min() < 1e-6, (n, values[n], expected[n])
    assert len(mismatched) <= 3
    assert not np.any(np.isin(values, zeros))
