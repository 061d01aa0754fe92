"""PixelRNN sampling: uint8 images, per-image seeds, the inverse CDF of each
sub-pixel in turn, temperature, completion, labels, and samples that follow
the model's exact pmf."""

import itertools

import numpy as np
import pytest

from pixel_keras import sampling
from tests import helpers

KINDS = ("row_lstm", "diagonal_bilstm")


# --- Sampling ------------------------------------------------------------------


@pytest.fixture(scope="module", params=KINDS)
def rgb_model(request):
    helpers.set_random_seed(7)
    model = helpers.tiny_pixel_rnn(request.param, image_shape=(3, 3, 3), num_levels=5)
    helpers.sharpen(model, np.random.default_rng(7).integers(0, 5, size=(8, 3, 3, 3)))
    return model


def test_samples_are_uint8_in_range_and_deterministic_per_seed(rgb_model):
    a = rgb_model.sample(4, seed=3).numpy()
    assert a.dtype == np.uint8 and a.shape == (4, 3, 3, 3)
    assert a.min() >= 0 and a.max() <= 4
    np.testing.assert_array_equal(rgb_model.sample(4, seed=3).numpy(), a)
    assert not np.array_equal(rgb_model.sample(4, seed=4).numpy(), a)
    assert len({image.tobytes() for image in a}) == 4


def test_each_image_depends_only_on_its_own_seed(rgb_model):
    seeds = np.array([[1, 2], [3, 4], [5, 6]], np.int32)
    batch = rgb_model.sample(3, seed=seeds).numpy()
    alone = rgb_model.sample(1, seed=seeds[1:2]).numpy()
    np.testing.assert_array_equal(batch[1:2], alone)
    reordered = rgb_model.sample(3, seed=seeds[::-1]).numpy()
    np.testing.assert_array_equal(reordered, batch[::-1])


def test_sample_is_the_inverse_cdf_of_each_subpixel_in_turn(rgb_model):
    seeds = sampling.per_image_seeds(11, 2)
    (noise,) = sampling.noise_per_image(rgb_model, seeds)
    noise = noise.numpy()
    height, width, channels = rgb_model.image_shape
    images = np.zeros((2, height, width, channels), np.float32)
    for r, c, k in itertools.product(range(height), range(width), range(channels)):
        logits = rgb_model.channel_logits(rgb_model(images)[:, r, c]).numpy()[:, k]
        probs = np.exp(logits - logits.max(-1, keepdims=True))
        cumulative = np.cumsum(probs / probs.sum(-1, keepdims=True), -1)
        images[:, r, c, k] = (cumulative <= noise[:, r, c, k, None]).sum(-1)
    np.testing.assert_array_equal(rgb_model.sample(2, seed=11).numpy(), images)


def test_temperature_changes_samples(rgb_model):
    cold = rgb_model.sample(4, seed=5, temperature=1e-3).numpy()
    warm = rgb_model.sample(4, seed=5).numpy()
    assert not np.array_equal(cold, warm)
    logits = rgb_model.channel_logits(rgb_model(cold.astype("float32"))).numpy()
    top_two = np.sort(logits, axis=-1)[..., -2:]
    clear = top_two[..., 1] - top_two[..., 0] > 0.02
    assert clear.mean() > 0.5
    np.testing.assert_array_equal(np.argmax(logits, -1)[clear], cold[clear])


def test_complete_keeps_known_pixels_and_fills_the_others(rgb_model):
    seeds = np.array([[1, 1], [2, 2], [3, 3]], np.int32)
    drawn = rgb_model.sample(3, seed=seeds).numpy()
    images = np.full_like(drawn, 4)
    known = np.zeros((3, 3, 3), bool)
    known[:, 0] = True
    known[1, 2, 2] = True  # a known pixel after unknown ones
    images[known] = np.random.default_rng(0).integers(0, 5, size=(known.sum(), 3))
    completed = rgb_model.complete(images, known, seed=seeds).numpy()
    np.testing.assert_array_equal(completed[known], images[known])
    assert completed.max() <= 4
    assert not np.array_equal(completed[~known], images[~known])
    prefix = np.zeros((3, 3, 3), bool)
    prefix[:, :1] = True
    prefix[:, 1, :2] = True
    garbage = np.where(prefix[..., None], drawn, 4)
    np.testing.assert_array_equal(rgb_model.complete(garbage, prefix, seed=seeds), drawn)


@pytest.mark.parametrize("kind", KINDS)
def test_class_conditional_sampling(kind):
    model = helpers.tiny_pixel_rnn(kind, image_shape=(3, 3, 1), num_levels=5, num_classes=3)
    samples = model.sample(2, seed=1, condition=[0, 2]).numpy()
    assert samples.shape == (2, 3, 3, 1) and samples.max() <= 4
    with pytest.raises(ValueError, match=r"labels.*\[0, 3\)"):
        model.sample(2, seed=1, condition=[3, 0])
    with pytest.raises(ValueError, match="labels"):
        model.sample(2, seed=1)
    with pytest.raises(ValueError, match="labels"):
        model.complete(samples, np.zeros((2, 3, 3), bool), seed=1)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "image_shape, num_levels, temperature",
    [((1, 1, 3), 3, 1.0), ((2, 2, 1), 3, 0.7)],
)
def test_samples_follow_the_model_pmf(kind, image_shape, num_levels, temperature):
    model = helpers.tiny_pixel_rnn(kind, image_shape=image_shape, num_levels=num_levels)
    images = helpers.all_images(image_shape, num_levels)
    helpers.sharpen(model, images)
    log_probs = helpers.categorical_log_prob(model, images, temperature=temperature)
    samples = model.sample(2000, seed=21, temperature=temperature).numpy()
    assert helpers.sample_fit_p_value(samples, log_probs, num_levels) > 1e-3
    independent = helpers.independent_log_probs(log_probs, images)
    assert helpers.sample_fit_p_value(samples, independent, num_levels) < 1e-6
    if temperature != 1.0:
        untempered = helpers.categorical_log_prob(model, images)
        assert helpers.sample_fit_p_value(samples, untempered, num_levels) < 1e-6
