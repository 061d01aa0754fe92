"""PixelCNN++: causality at every level, likelihood, training, saving."""

import itertools
import math

import numpy as np
import pytest

from pixel_keras import data
from pixel_keras import training
from pixel_keras.models import PIXEL_CNN_PP_PRESETS
from pixel_keras.models import PixelCNNPlusPlus
from tests import helpers


@pytest.mark.parametrize(
    "image_shape, num_hierarchies, num_classes",
    [
        ((8, 8, 1), 1, None),
        # Seconds each: two levels by default on the non-square image below.
        pytest.param((8, 8, 3), 2, None, marks=pytest.mark.slow),
        # Down to 2x2 and back, class-conditional (about 15 s: with -m slow).
        pytest.param((8, 8, 2), 3, 3, marks=pytest.mark.slow),
        ((4, 8, 3), 2, None),  # not square
    ],
)
def test_model_is_autoregressive_by_gradients(image_shape, num_hierarchies, num_classes):
    model = helpers.tiny_pixel_cnn_pp(
        image_shape=image_shape,
        num_levels=256,
        num_hierarchies=num_hierarchies,
        num_resnet=1,
        num_classes=num_classes,
    )
    x = np.random.default_rng(0).integers(0, 256, size=(1, *image_shape))

    def fn(images):
        return model(model.make_inputs(images, None if num_classes is None else [1]))

    height, width = image_shape[:2]
    maps = helpers.input_gradient_maps(fn, x, itertools.product(range(height), range(width)))
    helpers.assert_raster_causal(maps, width)
    if num_hierarchies == 3:
        # Down-sampling widens the receptive field: the last pixel sees the first.
        assert maps[(height - 1, width - 1)][0, 0] > 0


def test_output_distribution_shapes_and_parameter_count():
    model = helpers.tiny_pixel_cnn_pp(image_shape=(4, 4, 3), num_levels=256, num_logistic_mix=3)
    assert model.output_shape[-1] == 3 * (1 + 2 * 3 + 3)
    images = np.random.default_rng(0).integers(0, 256, size=(2, 4, 4, 3))
    distribution = model.distribution(images)
    assert distribution.batch_shape == (2,)
    assert distribution.event_shape == (4, 4, 3)
    log_prob = model.log_prob(images).numpy()
    bits = model.bits_per_dim(images).numpy()
    np.testing.assert_allclose(bits, -log_prob / (48 * math.log(2.0)), rtol=1e-6)


def test_likelihood_sums_to_one_over_all_images():
    # 2x2 binary images: 16 possible images; the model's pmf over them must
    # sum to one, which only holds if every pixel conditions on earlier ones.
    model = helpers.tiny_pixel_cnn_pp(image_shape=(2, 2, 1), num_levels=2, num_hierarchies=2)
    grid = np.array(list(itertools.product([0, 1], repeat=4))).reshape(16, 2, 2, 1)
    total = np.exp(model.log_prob(grid).numpy().astype(np.float64)).sum()
    np.testing.assert_allclose(total, 1.0, atol=1e-5)


@pytest.mark.slow
def test_fit_lowers_bits_per_dim_on_digits():
    dataset = data.load("digits")
    images, _ = data.images_and_labels(dataset.train, limit=256)
    model = helpers.tiny_pixel_cnn_pp(num_filters=16)
    model.compile(optimizer=training.make_optimizer(learning_rate=2e-3))
    before = model.evaluate(images.astype("float32"), batch_size=64, verbose=0)
    history = model.fit(images.astype("float32"), batch_size=32, epochs=3, verbose=0)
    after = model.evaluate(images.astype("float32"), batch_size=64, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert after < before - 0.3, (before, after)
    # The reported loss is the model's bits/dim.
    np.testing.assert_allclose(
        after, model.bits_per_dim(images).numpy().mean(), rtol=1e-4
    )


@pytest.mark.slow  # about 12 s
def test_class_conditional_fit_and_labels_matter():
    model = helpers.tiny_pixel_cnn_pp(num_classes=10)
    images = np.random.default_rng(0).integers(0, 17, size=(8, 8, 8, 1))
    labels = np.arange(8) % 10
    model.compile(optimizer="adam")
    model.fit({"images": images.astype("float32"), "condition": labels}, epochs=1, verbose=0)
    a = model.log_prob(images, labels).numpy()
    b = model.log_prob(images, (labels + 1) % 10).numpy()
    assert not np.allclose(a, b)
    with pytest.raises(ValueError, match="labels"):
        model.log_prob(images)


def test_get_config_round_trip_gives_identical_log_prob(tmp_path):
    model = helpers.tiny_pixel_cnn_pp(image_shape=(4, 4, 3), num_levels=256, dropout=0.3)
    images = np.random.default_rng(0).integers(0, 256, size=(3, 4, 4, 3))
    helpers.check_model(model, images, tmp_path=tmp_path)


def test_keras_save_and_load(tmp_path):
    model = helpers.tiny_pixel_cnn_pp(num_classes=3)
    model.compile(optimizer=training.make_optimizer())
    images = np.random.default_rng(0).integers(0, 17, size=(4, 8, 8, 1))
    labels = np.array([0, 1, 2, 0])
    model.fit({"images": images.astype("float32"), "condition": labels}, epochs=1, verbose=0)
    # The optimizer state comes back too, so training continues where it was.
    loaded = helpers.check_model(model, images, labels, tmp_path=tmp_path).loaded
    assert isinstance(loaded, PixelCNNPlusPlus)
    assert int(loaded.optimizer.iterations) == int(model.optimizer.iterations) > 0


def test_presets_build():
    for name, preset in PIXEL_CNN_PP_PRESETS.items():
        assert set(preset) >= {"image_shape", "num_levels", "num_filters"}
    model = PixelCNNPlusPlus.from_preset("mnist", num_filters=8, num_resnet=1)
    assert model.image_shape == (28, 28, 1)
    with pytest.raises(ValueError, match="preset"):
        PixelCNNPlusPlus.from_preset("imagenet")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"image_shape": (6, 8, 1), "num_hierarchies": 3}, "divisible by 4"),
        ({"image_shape": (8, 8)}, "image_shape"),
        ({"num_levels": 1}, "num_levels"),
        ({"num_levels": 300}, "num_levels"),
        ({"num_filters": 0}, "num_filters"),
        ({"dropout": 1.5}, "dropout"),
        ({"num_classes": 1}, "num_classes"),
    ],
)
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        helpers.tiny_pixel_cnn_pp(**kwargs)


def test_bad_image_shape_is_named():
    model = helpers.tiny_pixel_cnn_pp()
    with pytest.raises(ValueError, match=r"images.shape=\(2, 4, 4, 1\)"):
        model.log_prob(np.zeros((2, 4, 4, 1)))
