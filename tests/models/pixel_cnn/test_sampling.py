"""PixelCNN sampling: uint8 images, per-image seeds, the inverse CDF of each
sub-pixel in turn, temperature, completion, labels, and samples that follow
the model's exact pmf."""

import itertools

import numpy as np
import pytest
from scipy import special

from pixel_keras import sampling
from tests import helpers


# --- Sampling ------------------------------------------------------------------


@pytest.fixture(scope="module")
def rgb_model():
    helpers.set_random_seed(7)
    model = helpers.tiny_pixel_cnn(image_shape=(3, 3, 3), num_levels=5)
    helpers.sharpen(model, np.random.default_rng(7).integers(0, 5, size=(8, 3, 3, 3)))
    return model


def test_samples_are_uint8_in_range_and_deterministic_per_seed(rgb_model):
    a = rgb_model.sample(4, seed=3).numpy()
    assert a.dtype == np.uint8 and a.shape == (4, 3, 3, 3)
    assert a.min() >= 0 and a.max() <= 4
    np.testing.assert_array_equal(rgb_model.sample(4, seed=3).numpy(), a)
    assert not np.array_equal(rgb_model.sample(4, seed=4).numpy(), a)
    # Each image has its own noise: the images of a batch differ.
    assert len({image.tobytes() for image in a}) == 4


def test_each_image_depends_only_on_its_own_seed(rgb_model):
    seeds = np.array([[1, 2], [3, 4], [5, 6]], np.int32)
    batch = rgb_model.sample(3, seed=seeds).numpy()
    for i in range(3):
        alone = rgb_model.sample(1, seed=seeds[i : i + 1]).numpy()
        np.testing.assert_array_equal(batch[i : i + 1], alone)
    reordered = rgb_model.sample(3, seed=seeds[::-1]).numpy()
    np.testing.assert_array_equal(reordered, batch[::-1])


def test_sample_is_the_inverse_cdf_of_each_subpixel_in_turn(rgb_model):
    # A Python loop over sub-pixels, R then G then B, each drawn from the
    # model's logits given everything drawn so far and the sampler's noise.
    seeds = sampling.per_image_seeds(11, 2)
    (noise,) = sampling.noise_per_image(rgb_model, seeds)
    noise = noise.numpy()
    height, width, channels = rgb_model.image_shape
    images = np.zeros((2, height, width, channels), np.float32)
    for r, c, k in itertools.product(range(height), range(width), range(channels)):
        logits = rgb_model.channel_logits(rgb_model(images)[:, r, c]).numpy()[:, k]
        cumulative = np.cumsum(special.softmax(logits.astype(np.float64), -1), -1)
        images[:, r, c, k] = (cumulative <= noise[:, r, c, k, None]).sum(-1)
    np.testing.assert_array_equal(rgb_model.sample(2, seed=11).numpy(), images)


def test_temperature_changes_samples(rgb_model):
    cold = rgb_model.sample(4, seed=5, temperature=1e-3).numpy()
    warm = rgb_model.sample(4, seed=5).numpy()
    assert not np.array_equal(cold, warm)
    # Near zero temperature each sub-pixel is its most likely value given the
    # earlier ones (where the two best logits are not near a tie).
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
    assert completed.dtype == np.uint8 and completed.shape == images.shape
    np.testing.assert_array_equal(completed[known], images[known])
    assert completed.max() <= 4
    assert not np.array_equal(completed[~known], images[~known])
    # Given a prefix that the sampler drew itself, completion with the same
    # seeds continues exactly as sampling did.
    prefix = np.zeros((3, 3, 3), bool)
    prefix[:, :1] = True
    prefix[:, 1, :2] = True
    garbage = np.where(prefix[..., None], drawn, 4)
    np.testing.assert_array_equal(rgb_model.complete(garbage, prefix, seed=seeds), drawn)
    # Nothing unknown: the images come back unchanged.
    everything = np.ones((3, 3, 3), bool)
    np.testing.assert_array_equal(rgb_model.complete(drawn, everything, seed=1), drawn)


def test_class_conditional_sampling():
    model = helpers.tiny_pixel_cnn(image_shape=(3, 3, 1), num_levels=5, num_classes=3)
    images = np.random.default_rng(0).integers(0, 5, size=(2, 3, 3, 1)).astype("float32")
    a = model(model.make_inputs(images, [0, 0])).numpy()
    b = model(model.make_inputs(images, [1, 2])).numpy()
    assert not np.allclose(a, b)
    samples = model.sample(2, seed=1, condition=[0, 2]).numpy()
    assert samples.shape == (2, 3, 3, 1) and samples.max() <= 4
    with pytest.raises(ValueError, match=r"labels.*\[0, 3\)"):
        model.sample(2, seed=1, condition=[0, 3])
    with pytest.raises(ValueError, match=r"labels.*\[0, 3\)"):
        model.sample(2, seed=1, condition=[-1, 0])
    with pytest.raises(ValueError, match="labels"):
        model.sample(2, seed=1)
    with pytest.raises(ValueError, match="labels"):
        model.log_prob(images)
    with pytest.raises(ValueError, match="not class-conditional"):
        helpers.tiny_pixel_cnn().sample(1, seed=1, condition=[0])


@pytest.mark.parametrize(
    "image_shape, num_levels, temperature",
    [((1, 1, 3), 3, 1.0), ((2, 2, 1), 3, 1.0), ((1, 2, 2), 2, 0.6)],
)
def test_samples_follow_the_model_pmf(image_shape, num_levels, temperature):
    # The frequencies of sampled images match the exact (tempered) pmf
    # computed from the logits over every possible image.
    model = helpers.tiny_pixel_cnn(image_shape=image_shape, num_levels=num_levels)
    images = helpers.all_images(image_shape, num_levels)
    helpers.sharpen(model, images)
    log_probs = helpers.categorical_log_prob(model, images, temperature=temperature)
    if temperature == 1.0:
        np.testing.assert_allclose(model.log_prob(images), log_probs, atol=1e-4)
    samples = model.sample(2000, seed=21, temperature=temperature).numpy()
    assert samples.dtype == np.uint8 and samples.shape == (2000, *image_shape)
    assert helpers.sample_fit_p_value(samples, log_probs, num_levels) > 1e-3
    # The test has power: the pmf with every sub-pixel drawn from its
    # marginal does not fit, nor, for a tempered sampler, the untempered pmf.
    independent = helpers.independent_log_probs(log_probs, images)
    assert helpers.sample_fit_p_value(samples, independent, num_levels) < 1e-6
    if temperature != 1.0:
        untempered = helpers.categorical_log_prob(model, images)
        assert helpers.sample_fit_p_value(samples, untempered, num_levels) < 1e-6
