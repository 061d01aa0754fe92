"""Gated PixelCNN: no blind spot (and the PixelCNN's, to show the test can
fail), likelihood, conditioning, training, config and saving, mixed
precision, presets."""

import math

import numpy as np
import pytest

from pixel_keras import training
from pixel_keras.models import GATED_PIXEL_CNN_PRESETS
from pixel_keras.models import GatedPixelCNN
from tests import helpers


def gated_pixel_cnn(**overrides):
    """A small Gated PixelCNN from the `tiny` preset."""
    config = {"num_filters": 6, "num_layers": 2, "output_filters": 12}
    config.update(overrides)
    return GatedPixelCNN.from_preset("tiny", **config)


def every_earlier_subpixel(image_shape):
    """`[r, c, k, r', c', k']`: every earlier pixel, and the earlier channels
    of the pixel itself (R -> G -> B)."""
    height, width, channels = image_shape
    size = height * width
    expected = np.zeros((size, channels, size, channels), bool)
    for i in range(size):
        expected[i, :, :i] = True
        for k in range(channels):
            expected[i, k, i, :k] = True
    return expected.reshape(*image_shape, *image_shape)


def assert_no_blind_spot(dependencies):
    """The logits of every sub-pixel depend on every earlier sub-pixel in
    raster and R -> G -> B order, and on nothing else."""
    expected = every_earlier_subpixel(dependencies.shape[:3])
    missing = np.argwhere(expected & ~dependencies)
    extra = np.argwhere(dependencies & ~expected)
    assert not len(extra), f"reads later sub-pixels: {extra[:5].tolist()}"
    assert not len(missing), f"blind to earlier sub-pixels: {missing[:5].tolist()}"


# A non-square colour image inside the receptive field: 3 layers of 5 x 5
# reach 6 columns to either side and 9 rows up.
RGB_SHAPE = (5, 7, 3)


@pytest.mark.parametrize("num_classes", [None, 3])
def test_every_earlier_subpixel_and_nothing_later(num_classes):
    helpers.set_random_seed(0)
    model = gated_pixel_cnn(
        image_shape=RGB_SHAPE, num_levels=4, num_filters=12, num_layers=3,
        kernel_size=5, output_filters=24, num_classes=num_classes,
    )
    helpers.perturb_weights(model, 0.3)
    # Several images: a ReLU of the output stack can hide a dependence at one.
    images = np.random.default_rng(0).integers(0, 4, size=(12, *RGB_SHAPE))
    labels = None if num_classes is None else np.arange(12) % 3
    assert_no_blind_spot(helpers.subpixel_dependencies(model, images, labels))


def test_the_pixel_cnn_has_the_blind_spot_this_test_finds():
    # The PixelRNN paper's PixelCNN (7 x 7 mask A, then 3 x 3 mask B) on an
    # image wider than its first kernel: however deep, pixel (r, c) never
    # sees (r - 1, c + 4), which comes before it.
    model = helpers.tiny_pixel_cnn(
        image_shape=(4, 9, 1), num_levels=4, num_filters=8, num_layers=4
    )
    images = np.random.default_rng(1).integers(0, 4, size=(8, 4, 9, 1))
    dependencies = helpers.subpixel_dependencies(model, images)
    with pytest.raises(AssertionError, match="blind to earlier sub-pixels"):
        assert_no_blind_spot(dependencies)
    assert not dependencies[3, 0, 0, 2, 4, 0]
    # The Gated PixelCNN of the same depth on the same image sees it.
    helpers.set_random_seed(1)
    gated = gated_pixel_cnn(
        image_shape=(4, 9, 1), num_levels=4, num_filters=8, num_layers=4,
        kernel_size=5, output_filters=16,
    )
    helpers.perturb_weights(gated, 0.3)
    assert_no_blind_spot(helpers.subpixel_dependencies(gated, images))


@pytest.mark.parametrize(
    "image_shape, num_levels",
    [((2, 2, 1), 3), ((1, 2, 3), 2), ((2, 2, 1), 2), ((1, 1, 3), 4)],
)
def test_pmf_sums_to_one_over_all_images(image_shape, num_levels):
    model = gated_pixel_cnn(image_shape=image_shape, num_levels=num_levels)
    images = helpers.all_images(image_shape, num_levels)
    helpers.sharpen(model, images)
    log_probs = model.log_prob(images).numpy().astype(np.float64)
    np.testing.assert_allclose(np.exp(log_probs).sum(), 1.0, atol=1e-5)
    np.testing.assert_allclose(log_probs, helpers.categorical_log_prob(model, images), atol=1e-4)


def test_log_prob_is_the_sum_of_per_subpixel_log_softmax():
    model = gated_pixel_cnn(image_shape=(4, 5, 3), num_levels=6, num_classes=3)
    images = np.random.default_rng(0).integers(0, 6, size=(3, 4, 5, 3))
    labels = np.array([0, 2, 1])
    expected = helpers.categorical_log_prob(model, images, labels)
    np.testing.assert_allclose(model.log_prob(images, labels), expected, rtol=1e-5)
    bits = model.bits_per_dim(images, labels).numpy()
    np.testing.assert_allclose(bits, -expected / (4 * 5 * 3 * math.log(2.0)), rtol=1e-5)


CONDITIONS = {
    "labels": ({"num_classes": 3}, lambda g: np.array([0, 1]), lambda g: np.array([2, 0])),
    "vector": (
        {"conditional_shape": (5,)},
        lambda g: g.normal(size=(2, 5)),
        lambda g: g.normal(size=(2, 5)),
    ),
    "map": (
        {"conditional_shape": (4, 6, 2)},
        lambda g: g.normal(size=(2, 4, 6, 2)),
        lambda g: g.normal(size=(2, 4, 6, 2)),
    ),
    "small_map": (
        {"conditional_shape": (2, 3, 2)},
        lambda g: g.normal(size=(2, 2, 3, 2)),
        lambda g: g.normal(size=(2, 2, 3, 2)),
    ),
}


@pytest.mark.parametrize("kind", sorted(CONDITIONS))
def test_conditioning_changes_the_outputs(kind):
    arguments, first, second = CONDITIONS[kind]
    model = gated_pixel_cnn(image_shape=(4, 6, 1), num_levels=5, **arguments)
    helpers.perturb_weights(model, 0.3)
    generator = np.random.default_rng(0)
    images = generator.integers(0, 5, size=(2, 4, 6, 1))
    a, b = first(generator), second(generator)
    outputs_a = model(model.make_inputs(images, a)).numpy()
    outputs_b = model(model.make_inputs(images, b)).numpy()
    assert np.abs(outputs_a - outputs_b).max() > 1e-3
    # ... at the first pixel too, which reads no other pixel.
    assert np.abs(outputs_a[:, 0, 0] - outputs_b[:, 0, 0]).max() > 1e-3
    assert model.log_prob(images, a).shape == (2,)
    with pytest.raises(ValueError, match="conditional; pass `condition`"):
        model.log_prob(images)


def test_a_map_condition_is_spatial_and_keeps_causality():
    model = gated_pixel_cnn(
        image_shape=(4, 6, 1), num_levels=5, conditional_shape=(2, 3, 1), num_layers=3
    )
    assert model.condition_map_factors == (2, 2)
    helpers.perturb_weights(model, 0.3)
    generator = np.random.default_rng(1)
    images = generator.integers(0, 5, size=(3, 4, 6, 1))
    condition = generator.normal(size=(3, 2, 3, 1)).astype("float32")
    # The map's bottom-right value is upsampled to rows 2-3, columns 4-5:
    # it changes the outputs there, and none in the rows above (the stacks
    # carry a row's terms down and along rows, never up).
    moved = condition.copy()
    moved[:, 1, 2] += 1.0
    a = model(model.make_inputs(images, condition)).numpy()
    b = model(model.make_inputs(images, moved)).numpy()
    changed = np.abs(a - b).max(axis=(0, 3)) > 1e-6
    np.testing.assert_array_equal(changed[:2], False)
    assert changed[2, 4] and changed[3, 5]
    dependencies = helpers.perturbation_dependencies(model, images, condition)
    helpers.assert_autoregressive(dependencies)


@pytest.mark.parametrize(
    "arguments, condition, match",
    [
        ({"conditional_shape": (2, 3, 1)}, np.zeros((2, 3, 3, 1)), r"condition.*\(2, 2, 3, 1\)"),
        ({"conditional_shape": (5,)}, np.zeros((2, 4)), r"condition.*\(2, 5\)"),
        ({"num_classes": 3}, np.array([0, 3]), r"\[0, 3\)"),
    ],
)
def test_ill_shaped_conditions_are_named(arguments, condition, match):
    model = gated_pixel_cnn(image_shape=(4, 6, 1), num_levels=5, **arguments)
    images = np.zeros((2, 4, 6, 1))
    with pytest.raises(ValueError, match=match):
        model.log_prob(images, condition)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"image_shape": (8, 8, 3), "num_filters": 2}, "num_filters"),
        ({"num_layers": 0}, "num_layers"),
        ({"kernel_size": 4}, "kernel_size"),
        ({"kernel_size": 1}, "kernel_size"),
        ({"num_levels": 2**16 + 1}, "num_levels"),
        ({"conditional_shape": (3, 3, 1)}, "divide the image's"),
        ({"num_classes": 3, "conditional_shape": (2,)}, "not both"),
        ({"input_encoding": "binary"}, "encoding"),
    ],
)
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        gated_pixel_cnn(**kwargs)


def test_unknown_keywords_are_refused():
    with pytest.raises(TypeError, match="did you mean `kernel_size`"):
        gated_pixel_cnn(kernel_sizes=3)


@pytest.mark.parametrize(
    "arguments, condition",
    [
        ({"num_classes": 3}, np.array([2, 0, 1])),
        ({"conditional_shape": (2, 2, 2)}, np.random.default_rng(3).normal(size=(3, 2, 2, 2))),
    ],
)
def test_keras_round_trip(arguments, condition, tmp_path):
    model = gated_pixel_cnn(image_shape=(4, 4, 3), num_levels=8, **arguments)
    helpers.perturb_weights(model, 0.1)
    images = np.random.default_rng(0).integers(0, 8, size=(3, 4, 4, 3))
    loaded = helpers.check_model(model, images, condition, tmp_path=tmp_path).loaded
    assert isinstance(loaded, GatedPixelCNN)
    assert loaded.condition_spec.shape == model.condition_spec.shape


def test_mixed_bfloat16_gives_close_log_probs():
    helpers.set_random_seed(3)
    full = gated_pixel_cnn(image_shape=(4, 5, 3), num_levels=8)
    mixed = gated_pixel_cnn(image_shape=(4, 5, 3), num_levels=8, dtype="mixed_bfloat16")
    mixed.set_weights(full.get_weights())
    assert mixed.get_layer("gated_block_1").compute_dtype == "bfloat16"
    assert {w.dtype for w in mixed.weights} == {"float32"}
    images = np.random.default_rng(0).integers(0, 8, size=(4, 4, 5, 3))
    outputs = mixed(mixed.make_inputs(images))
    assert outputs.dtype == "float32"
    np.testing.assert_allclose(mixed.log_prob(images), full.log_prob(images), rtol=2e-2)


def test_fit_lowers_the_loss_on_digits():
    images = helpers.digits(limit=128)
    model = gated_pixel_cnn(num_filters=8, output_filters=16)
    model.compile(optimizer=training.make_optimizer(learning_rate=1e-2))
    before = model.evaluate(images, batch_size=64, verbose=0)
    history = model.fit(images, batch_size=32, epochs=3, verbose=0, shuffle=False)
    after = model.evaluate(images, batch_size=64, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert after < before - 0.2, (before, after)
    np.testing.assert_allclose(after, model.bits_per_dim(images).numpy().mean(), rtol=1e-4)


def test_presets():
    for name, preset in GATED_PIXEL_CNN_PRESETS.items():
        assert {"image_shape", "num_levels", "num_filters", "num_layers", "kernel_size"} <= set(
            preset
        ), name
    # The paper's CIFAR-10 model: 20 layers of 384 maps, 5 x 5 filters.
    cifar10 = GATED_PIXEL_CNN_PRESETS["cifar10"]
    assert (cifar10["num_layers"], cifar10["num_filters"], cifar10["kernel_size"]) == (20, 384, 5)
    model = GatedPixelCNN.from_preset("tiny")
    assert model.output_shape == (None, 8, 8, 17)
    model = GatedPixelCNN.from_preset("binarized_mnist", num_filters=4, num_layers=1)
    assert model.output_shape == (None, 28, 28, 1)
    model = GatedPixelCNN.from_preset("vqvae_prior", num_filters=4, num_layers=1, output_filters=8)
    assert model.output_shape == (None, 32, 32, 512)
    assert model.input_encoding == "embedding"
    bottom = GatedPixelCNN.from_preset(
        "vqvae_prior", num_filters=4, num_layers=1, output_filters=8, conditional_shape=(16, 16, 8)
    )
    assert bottom.condition_map_factors == (2, 2)
    with pytest.raises(ValueError, match="preset"):
        GatedPixelCNN.from_preset("imagenet")
