"""The sampling core (`pixel_keras.sampling`) on a PixelCNN++: determinism,
seeds, exactness against a Python loop over the same noise, known pixels."""

import itertools

import numpy as np
import pytest
from scipy import stats

from pixel_keras import sampling
from tests import helpers


@pytest.fixture(scope="module")
def model():
    return helpers.tiny_pixel_cnn_pp(image_shape=(4, 4, 3), num_levels=256, num_hierarchies=2)


def _reference_sample(model, seeds, temperature=1.0):
    """Pixel-by-pixel Python loop over the same per-image noise."""
    component_noise, channel_noise = sampling.noise_per_image(model, seeds)
    height, width, channels = model.image_shape
    images = np.zeros([seeds.shape[0], height, width, channels], np.float32)
    for r, c in itertools.product(range(height), range(width)):
        outputs = model(images, training=False)
        distribution = model.output_distribution(outputs[:, r, c], temperature)
        images[:, r, c] = distribution.sample_from_uniforms(
            component_noise[:, r, c], channel_noise[:, r, c]
        ).numpy()
    return images.astype(np.uint8)


def test_sample_matches_python_reference_loop(model):
    seeds = sampling.per_image_seeds(7, 3)
    expected = _reference_sample(model, seeds)
    np.testing.assert_array_equal(model.sample(3, seed=seeds).numpy(), expected)


def test_sample_is_deterministic_per_seed_and_in_range(model):
    a = model.sample(2, seed=3).numpy()
    b = model.sample(2, seed=3).numpy()
    c = model.sample(2, seed=4).numpy()
    assert a.dtype == np.uint8 and a.shape == (2, 4, 4, 3)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_each_image_depends_only_on_its_own_seed(model):
    seeds = np.array([[1, 2], [3, 4], [5, 6]], np.int32)
    batch = model.sample(3, seed=seeds).numpy()
    alone = model.sample(1, seed=seeds[1:2]).numpy()
    np.testing.assert_array_equal(batch[1:2], alone)


def test_samples_follow_the_model_likelihood():
    # 2x2 binary images have 16 outcomes: the frequencies of sampled images
    # must match the probabilities that log_prob assigns to them.
    model = helpers.tiny_pixel_cnn_pp(image_shape=(2, 2, 1), num_levels=2, num_hierarchies=2)
    grid = np.array(list(itertools.product([0, 1], repeat=4))).reshape(16, 2, 2, 1)
    probs = np.exp(model.log_prob(grid).numpy().astype(np.float64))
    samples = model.sample(3000, seed=11).numpy().reshape(3000, 4)
    index = samples @ (2 ** np.arange(3, -1, -1))
    counts = np.bincount(index, minlength=16)
    expected = probs / probs.sum() * 3000
    _, p_value = stats.chisquare(counts, expected)
    assert p_value > 1e-3, (counts, expected)


def test_temperature_changes_samples(model):
    cold = model.sample(2, seed=5, temperature=0.2).numpy()
    warm = model.sample(2, seed=5).numpy()
    assert not np.array_equal(cold, warm)


def test_complete_keeps_known_pixels(model):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(2, 4, 4, 3))
    known = np.zeros((2, 4, 4), bool)
    known[:, :2] = True
    known[1, 3, 3] = True  # a known pixel after unknown ones
    completed = model.complete(images, known, seed=9).numpy()
    np.testing.assert_array_equal(completed[known], images[known])
    assert not np.array_equal(completed[~known], images[~known])
    # Fully known images come back unchanged.
    all_known = model.complete(images, np.ones((2, 4, 4), bool), seed=9).numpy()
    np.testing.assert_array_equal(all_known, images)


def test_complete_with_nothing_known_equals_sample(model):
    images = np.zeros((2, 4, 4, 3))
    completed = model.complete(images, np.zeros((2, 4, 4), bool), seed=5).numpy()
    np.testing.assert_array_equal(completed, model.sample(2, seed=5).numpy())


def test_class_labels_change_samples():
    model = helpers.tiny_pixel_cnn_pp(num_classes=4)
    a = model.sample(2, seed=1, condition=[0, 1]).numpy()
    b = model.sample(2, seed=1, condition=[2, 3]).numpy()
    assert not np.array_equal(a, b)
    with pytest.raises(ValueError, match=r"labels.*\[0, 4\)"):
        model.sample(2, seed=1, condition=[0, 4])
    with pytest.raises(ValueError, match="labels"):
        model.sample(2, seed=1)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"num": 0, "seed": 1}, "num"),
        ({"num": 2, "seed": 1.5}, "seed"),
        ({"num": 2, "seed": [1, 2, 3]}, "seed"),
        ({"num": 2, "seed": np.zeros((3, 2), np.int32)}, r"\[2, 2\]"),
        ({"num": 2, "seed": 1, "temperature": 0.0}, "temperature"),
        ({"num": 2, "seed": 1, "condition": [1, 2]}, "not class-conditional"),
    ],
)
def test_bad_sampling_arguments_are_named(model, kwargs, match):
    with pytest.raises(ValueError, match=match):
        model.sample(**kwargs)


def test_bad_completion_arguments_are_named(model):
    images = np.zeros((2, 4, 4, 3))
    with pytest.raises(ValueError, match="known_mask"):
        model.complete(images, np.zeros((2, 4, 3), bool), seed=1)
    with pytest.raises(ValueError, match=r"images\.shape"):
        model.complete(np.zeros((2, 4, 4, 1)), np.zeros((2, 4, 4), bool), seed=1)
    with pytest.raises(ValueError, match=r"\[0, 255\]"):
        model.complete(images + 300, np.zeros((2, 4, 4), bool), seed=1)


def test_a_model_with_the_older_cached_loop_signature_still_samples():
    # A model written against `build_cached_loop(jit_compile=False)` (before
    # `teacher_forced_rows`) gets only the arguments its method takes.
    model = helpers.tiny_pixel_cnn(image_shape=(3, 3, 1), num_levels=5)
    original = model.build_cached_loop
    calls = []

    def build_cached_loop(jit_compile=False):
        calls.append(jit_compile)
        return original(jit_compile=jit_compile)

    model.build_cached_loop = build_cached_loop
    images = model.sample(2, seed=3, jit_compile=False).numpy()
    np.testing.assert_array_equal(images, model.sample(2, seed=3, method="naive"))
    known = np.zeros((2, 3, 3), bool)
    known[:, 0] = True
    completed = model.complete(images, known, seed=4, jit_compile=False).numpy()
    np.testing.assert_array_equal(
        completed, model.complete(images, known, seed=4, method="naive")
    )
    assert calls == [False, False]
