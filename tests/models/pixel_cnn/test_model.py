"""PixelCNN: sub-pixel causality, receptive field, likelihood, training,
config and saving, presets."""

import itertools
import math

import numpy as np
import pytest

from pixel_keras import data
from pixel_keras import training
from pixel_keras.models import PIXEL_CNN_PRESETS
from pixel_keras.models import PixelCNN
from tests import helpers


def pixel_cnn_layer_reads(height, width):
    """A residual block's 3 x 3 mask-B convolution reads the pixels up-left,
    up, up-right and left of each pixel."""
    reads = np.zeros((height, width, height, width), bool)
    for r, c in itertools.product(range(height), range(width)):
        for dr, dc in ((-1, -1), (-1, 0), (-1, 1), (0, -1)):
            if 0 <= r + dr < height and 0 <= c + dc < width:
                reads[r, c, r + dr, c + dc] = True
    return reads


@pytest.mark.parametrize(
    "image_shape, num_levels, num_classes",
    [
        ((5, 6, 3), 4, None),
        ((5, 6, 1), 17, None),
        ((5, 6, 3), 2, None),  # binarized: a Bernoulli per channel
        ((4, 5, 1), 2, None),
        ((4, 4, 3), 5, 3),  # class-conditional
    ],
)
def test_logits_are_autoregressive_in_pixels_and_channels(
    image_shape, num_levels, num_classes
):
    model = helpers.tiny_pixel_cnn(
        image_shape=image_shape,
        num_levels=num_levels,
        num_filters=9,
        num_layers=2,
        output_filters=18,
        num_classes=num_classes,
    )
    images = np.random.default_rng(0).integers(0, num_levels, size=(6, *image_shape))
    labels = None if num_classes is None else [0, 1, 2, 0, 1, 2]
    helpers.assert_autoregressive(helpers.subpixel_dependencies(model, images, labels))


@pytest.mark.parametrize("num_layers, channels", [(1, 1), (2, 3), (3, 1)])
def test_receptive_field_is_the_mask_a_window_grown_by_each_block(num_layers, channels):
    # Exactly the sub-pixels that the masks allow, and every one of them.
    height, width = 7, 9
    model = helpers.tiny_pixel_cnn(
        image_shape=(height, width, channels),
        num_levels=4,
        num_filters=12,
        num_layers=num_layers,
        output_filters=24,
    )
    images = np.random.default_rng(1).integers(0, 4, size=(6, height, width, channels))
    reads = pixel_cnn_layer_reads(height, width)
    expected = helpers.expected_dependencies((height, width, channels), [reads] * num_layers)
    np.testing.assert_array_equal(helpers.subpixel_dependencies(model, images), expected)


def test_blind_spot_above_right():
    # The 7 x 7 mask-A window reaches 3 columns right in the rows above, and
    # each 3 x 3 mask-B block one more column per row further up: however
    # deep the network, pixel (r, c) never sees (r - d, c + d + 3) and beyond
    # (d >= 1), although all of them come earlier in raster order.
    model = helpers.tiny_pixel_cnn(
        image_shape=(4, 8, 1), num_levels=4, num_filters=8, num_layers=4
    )
    images = np.random.default_rng(2).integers(0, 4, size=(6, 4, 8, 1))
    seen = helpers.subpixel_dependencies(model, images)[..., 0, :, :, 0]
    np.testing.assert_array_equal(seen[1, 0, 0], np.arange(8) < 4)
    for row, last_seen in ((2, 4), (1, 5), (0, 6)):
        np.testing.assert_array_equal(seen[3, 1, row], np.arange(8) <= last_seen)
    np.testing.assert_array_equal(seen[3, 1, 3], np.arange(8) < 1)


def test_log_prob_is_the_sum_of_per_subpixel_log_softmax():
    model = helpers.tiny_pixel_cnn(image_shape=(4, 5, 3), num_levels=6, num_classes=3)
    images = np.random.default_rng(0).integers(0, 6, size=(3, 4, 5, 3))
    labels = np.array([0, 2, 1])
    distribution = model.distribution(images, labels)
    assert distribution.batch_shape == (3,)
    assert distribution.event_shape == (4, 5, 3)
    expected = helpers.categorical_log_prob(model, images, labels)
    np.testing.assert_allclose(distribution.log_prob(images), expected, rtol=1e-5)
    np.testing.assert_allclose(model.log_prob(images, labels), expected, rtol=1e-5)
    bits = model.bits_per_dim(images, labels).numpy()
    np.testing.assert_allclose(bits, -expected / (4 * 5 * 3 * math.log(2.0)), rtol=1e-5)


def test_bernoulli_log_prob_is_the_sum_of_log_sigmoids():
    model = helpers.tiny_pixel_cnn(image_shape=(3, 4, 3), num_levels=2)
    images = np.random.default_rng(0).integers(0, 2, size=(2, 3, 4, 3))
    outputs = model(images.astype("float32")).numpy().astype(np.float64)
    assert outputs.shape == (2, 3, 4, 3)  # one logit per channel
    signs = 2.0 * images - 1.0
    expected = -np.logaddexp(0.0, -signs * outputs).sum(axis=(1, 2, 3))
    np.testing.assert_allclose(model.log_prob(images), expected, rtol=1e-5)


@pytest.mark.parametrize(
    "image_shape, num_levels",
    [((2, 2, 1), 3), ((1, 2, 3), 2), ((1, 1, 3), 4)],
)
def test_pmf_sums_to_one_over_all_images(image_shape, num_levels):
    # With sharpened logits the sum is far from one if any sub-pixel saw
    # itself or a later one.
    model = helpers.tiny_pixel_cnn(image_shape=image_shape, num_levels=num_levels)
    images = helpers.all_images(image_shape, num_levels)
    helpers.sharpen(model, images)
    log_probs = model.log_prob(images).numpy().astype(np.float64)
    np.testing.assert_allclose(np.exp(log_probs).sum(), 1.0, atol=1e-5)
    np.testing.assert_allclose(log_probs, helpers.categorical_log_prob(model, images), atol=1e-4)


def test_fit_lowers_the_loss_on_digits():
    images, _ = data.images_and_labels(data.load("digits").train, limit=128)
    images = images.astype("float32")
    model = helpers.tiny_pixel_cnn(num_filters=8, output_filters=16)
    model.compile(optimizer=training.make_optimizer(learning_rate=3e-3))
    before = model.evaluate(images, batch_size=64, verbose=0)
    history = model.fit(images, batch_size=32, epochs=3, verbose=0, shuffle=False)
    after = model.evaluate(images, batch_size=64, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert after < before - 0.2, (before, after)
    # The loss is the model's bits/dim.
    np.testing.assert_allclose(after, model.bits_per_dim(images).numpy().mean(), rtol=1e-4)


def test_get_config_round_trip_gives_identical_log_prob(tmp_path):
    model = helpers.tiny_pixel_cnn(image_shape=(4, 4, 3), num_levels=8, num_layers=2, num_classes=3)
    images = np.random.default_rng(0).integers(0, 8, size=(3, 4, 4, 3))
    labels = np.array([2, 0, 1])
    helpers.check_model(model, images, labels, tmp_path=tmp_path)


def test_keras_save_and_load(tmp_path):
    model = helpers.tiny_pixel_cnn(image_shape=(4, 4, 3), num_levels=2)
    images = np.random.default_rng(0).integers(0, 2, size=(4, 4, 4, 3))
    model.compile(optimizer="adam")
    model.fit(images.astype("float32"), epochs=1, verbose=0)
    loaded = helpers.check_model(model, images, tmp_path=tmp_path).loaded
    assert isinstance(loaded, PixelCNN)


def test_presets():
    for name, preset in PIXEL_CNN_PRESETS.items():
        assert set(preset) == {
            "image_shape", "num_levels", "num_filters", "num_layers", "output_filters"
        }, name
    # The paper's CIFAR-10 PixelCNN: 15 residual blocks, h = 128.
    assert PIXEL_CNN_PRESETS["cifar10"] == {
        "image_shape": (32, 32, 3),
        "num_levels": 256,
        "num_filters": 128,
        "num_layers": 15,
        "output_filters": 1024,
    }
    assert PIXEL_CNN_PRESETS["binarized_mnist"]["num_levels"] == 2
    model = PixelCNN.from_preset("binarized_mnist")
    assert model.output_shape == (None, 28, 28, 1)
    assert model.num_layers == 7 and model.num_filters == 16
    model = PixelCNN.from_preset("tiny")
    assert model.output_shape == (None, 8, 8, 17)
    # Overrides replace the preset's values and leave the table alone.
    model = PixelCNN.from_preset("cifar10", num_filters=4, num_layers=1, output_filters=8)
    assert model.output_shape == (None, 32, 32, 3 * 256)
    assert PIXEL_CNN_PRESETS["cifar10"]["num_filters"] == 128
    with pytest.raises(ValueError, match="preset"):
        PixelCNN.from_preset("imagenet")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"image_shape": (8, 8, 3), "num_filters": 2}, "num_filters"),
        ({"image_shape": (8, 8, 3), "output_filters": 2}, "output_filters"),
        ({"num_layers": 0}, "num_layers"),
        ({"num_levels": 1}, "num_levels"),
        ({"num_levels": 2**16 + 1}, "num_levels"),
        ({"image_shape": (8, 8)}, "image_shape"),
        ({"num_classes": 3, "conditional_shape": (2,)}, "not both"),
        ({"conditional_shape": (0,)}, "conditional_shape"),
        ({"input_encoding": "binary"}, "encoding"),
        ({"input_encoding": "embedding", "embedding_dim": 0}, "embedding_dim"),
        ({"image_shape": (8, 0, 1)}, "image_shape"),
        ({"num_classes": 1}, "num_classes"),
    ],
)
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        helpers.tiny_pixel_cnn(**kwargs)


def test_bad_images_are_named():
    model = helpers.tiny_pixel_cnn()
    with pytest.raises(ValueError, match=r"images\.shape=\(2, 8, 8, 3\)"):
        model.log_prob(np.zeros((2, 8, 8, 3)))
