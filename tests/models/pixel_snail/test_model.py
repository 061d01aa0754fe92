"""PixelSNAIL: causality (through the convolutions and the attention),
likelihood, mixed precision, saving, presets."""

import itertools

import keras
import numpy as np
import pytest

from pixel_keras.models import PIXEL_SNAIL_PRESETS
from pixel_keras.models import PixelSNAIL
from pixel_keras.models.pixel_snail import layer_names
from tests import helpers


def tiny_pixel_snail(**overrides):
    config = dict(num_filters=8, key_dim=4, value_dim=6, num_logistic_mix=2, dropout=0.0)
    config.update(overrides)
    return PixelSNAIL.from_preset("tiny", **config)


def _gradient_maps(model, image_shape, positions, condition=None):
    x = np.random.default_rng(0).integers(0, model.num_levels, size=(1, *image_shape))

    def fn(images):
        return model(model.make_inputs(images, condition))

    return helpers.input_gradient_maps(fn, x, positions)


def _all_positions(image_shape):
    return list(itertools.product(range(image_shape[0]), range(image_shape[1])))


def _blind_attention(model):
    """Zeroes every attention's values: the attention outputs are then zero
    and the model sees only what its convolutions see."""
    for b in range(model.num_blocks):
        layer = model.get_layer(layer_names.attention_layer(b))
        layer.value_kernel.assign(np.zeros(layer.value_kernel.shape, "float32"))
        layer.value_bias.assign(np.zeros(layer.value_bias.shape, "float32"))


@pytest.mark.parametrize(
    "image_shape, num_heads, num_classes",
    [((4, 5, 3), 2, 3), pytest.param((5, 4, 1), 1, None, marks=pytest.mark.slow)],
)
def test_model_is_autoregressive_by_gradients(image_shape, num_heads, num_classes):
    model = tiny_pixel_snail(
        image_shape=image_shape, num_levels=256, num_heads=num_heads, num_classes=num_classes
    )
    helpers.perturb_weights(model, 0.05)
    condition = None if num_classes is None else [1]
    maps = _gradient_maps(model, image_shape, _all_positions(image_shape), condition)
    helpers.assert_raster_causal(maps, image_shape[1])
    # Through the attention, every pixel reads every earlier one.
    for (r, c), gradient in maps.items():
        position = r * image_shape[1] + c
        assert np.all(gradient.reshape(-1)[:position] > 0), (r, c)


def test_attention_alone_sees_the_pixels_above_and_to_the_right():
    # The 2 x 2 down-right-shifted convolutions reach one column right of a
    # pixel (the stem's row above), no further: (4, 0) reads (0, 5) only
    # through the attention.
    image_shape = (5, 6, 1)
    model = tiny_pixel_snail(image_shape=image_shape)
    helpers.perturb_weights(model, 0.05)
    maps = _gradient_maps(model, image_shape, [(4, 0), (2, 1)])
    assert maps[(4, 0)][0, 5] > 0 and maps[(2, 1)][0, 5] > 0
    _blind_attention(model)
    maps = _gradient_maps(model, image_shape, [(4, 0), (2, 1)])
    assert maps[(4, 0)][0, 5] == 0 and maps[(2, 1)][0, 5] == 0
    # Still causal, and still reading the pixels above and to the left.
    helpers.assert_raster_causal(maps, image_shape[1])
    assert maps[(2, 1)][1, 0] > 0


def test_the_causality_check_fails_with_a_non_strict_mask():
    # The keys read the raw pixels: a mask that lets a pixel attend to its
    # own position lets the pixel's likelihood read its own value.
    image_shape = (3, 4, 3)
    model = tiny_pixel_snail(image_shape=image_shape, num_levels=256)
    helpers.perturb_weights(model, 0.05)
    positions = _all_positions(image_shape)
    helpers.assert_raster_causal(_gradient_maps(model, image_shape, positions), image_shape[1])
    for b in range(model.num_blocks):
        model.get_layer(layer_names.attention_layer(b)).strict = False
    maps = _gradient_maps(model, image_shape, positions)
    with pytest.raises(AssertionError, match="depends on inputs at or after it"):
        helpers.assert_raster_causal(maps, image_shape[1])
    # Every pixel now reads itself.
    assert all(maps[(r, c)][r, c] > 0 for r, c in positions)


def test_likelihood_sums_to_one_over_all_images():
    model = tiny_pixel_snail(image_shape=(2, 2, 1), num_levels=2)
    helpers.perturb_weights(model, 0.2)
    grid = helpers.all_images((2, 2, 1), 2)
    total = np.exp(model.log_prob(grid).numpy().astype(np.float64)).sum()
    np.testing.assert_allclose(total, 1.0, atol=1e-5)


def test_rgb_likelihood_sums_to_one_over_all_images():
    # One pixel of three channels (8 levels): the mixture's channel
    # coefficients, 512 values.
    model = tiny_pixel_snail(image_shape=(1, 2, 3), num_levels=4)
    helpers.perturb_weights(model, 0.2)
    grid = helpers.all_images((1, 2, 3), 4)
    total = np.exp(model.log_prob(grid).numpy().astype(np.float64)).sum()
    np.testing.assert_allclose(total, 1.0, atol=1e-4)


@pytest.mark.parametrize(
    "head",
    [{}, {"head": "categorical", "input_encoding": "embedding"}],
    ids=["mixture", "categorical"],
)
def test_mixed_precision_log_prob_is_close(head):
    config = dict(image_shape=(4, 4, 3), num_levels=256, num_classes=3, **head)
    exact = tiny_pixel_snail(**config)
    helpers.perturb_weights(exact, 0.05)
    mixed = tiny_pixel_snail(dtype="mixed_bfloat16", **config)
    mixed.set_weights(exact.get_weights())
    assert mixed.get_layer(layer_names.attention_layer(0)).compute_dtype == "bfloat16"
    assert mixed.output.dtype == "float32"
    images = np.random.default_rng(0).integers(0, 256, (3, 4, 4, 3))
    labels = np.array([0, 1, 2])
    expected = exact.log_prob(images, labels).numpy()
    np.testing.assert_allclose(mixed.log_prob(images, labels).numpy(), expected, rtol=2e-2)


def test_get_config_and_keras_round_trip(tmp_path):
    model = tiny_pixel_snail(image_shape=(4, 4, 3), num_levels=256, num_heads=2, num_classes=3)
    helpers.perturb_weights(model, 0.05)
    model.compile()
    images = np.random.default_rng(0).integers(0, 256, (3, 4, 4, 3))
    labels = np.array([0, 1, 2])
    model.fit({"images": images.astype("float32"), "condition": labels}, epochs=1, verbose=0)
    loaded = helpers.check_model(model, images, labels, tmp_path=tmp_path).loaded
    assert isinstance(loaded, PixelSNAIL)
    assert int(loaded.optimizer.iterations) == int(model.optimizer.iterations) > 0


def test_condition_values_change_the_likelihood():
    model = tiny_pixel_snail(image_shape=(3, 3, 1), conditional_shape=(2,))
    helpers.perturb_weights(model, 0.05)
    images = np.random.default_rng(0).integers(0, 17, (2, 3, 3, 1))
    condition = np.array([[1.0, -1.0], [0.5, 2.0]], np.float32)
    a = model.log_prob(images, condition).numpy()
    b = model.log_prob(images, condition[::-1]).numpy()
    assert np.all(np.abs(a - b) > 1e-4)


def test_presets():
    cifar = PIXEL_SNAIL_PRESETS["cifar10"]
    assert (cifar["num_blocks"], cifar["num_resnet"], cifar["num_filters"]) == (12, 4, 256)
    assert (cifar["key_dim"], cifar["value_dim"], cifar["num_heads"]) == (16, 128, 1)
    assert (cifar["num_logistic_mix"], cifar["dropout"]) == (10, 0.5)
    assert PIXEL_SNAIL_PRESETS["imagenet32"]["num_logistic_mix"] == 32
    # VQ-VAE-2's top prior: 32 x 32 codes of 512, 8 heads, 20 layers of
    # which 4 are attention layers, a softmax over the codes.
    top = PIXEL_SNAIL_PRESETS["vqvae2_top"]
    assert (top["image_shape"], top["num_levels"], top["num_heads"]) == ((32, 32, 1), 512, 8)
    assert (top["num_blocks"] * top["num_resnet"], top["num_blocks"]) == (20, 4)
    assert (top["head"], top["input_encoding"]) == ("categorical", "embedding")
    assert top["dropout"] == 0.1
    prior = PixelSNAIL.from_preset("vqvae2_top", num_filters=8, num_blocks=1, num_resnet=1)
    # 512 codes: int32 images.
    assert prior.output_shape == (None, 32, 32, 512) and prior.sample_dtype == "int32"
    model = PixelSNAIL.from_preset("tiny")
    assert model.image_shape == (8, 8, 1) and model.num_levels == 17
    assert model.recipe_family == "pixel_snail"
    with pytest.raises(ValueError, match="preset"):
        PixelSNAIL.from_preset("imagenet64")


@pytest.mark.slow  # builds the 512-filter network (seconds)
def test_vqvae2_top_preset_builds():
    model = PixelSNAIL.from_preset("vqvae2_top")
    assert model.output_shape == (None, 32, 32, 512)
    assert model.get_layer("pixel_encoding").embeddings.shape == (1, 512, 64)
    attention = model.get_layer(layer_names.attention_layer(3))
    assert attention.query_kernel.shape == (512 + 2, 8 * 32)
    assert attention.value_kernel.shape == (64 + 512 + 2, 8 * 32)


@pytest.mark.slow  # builds the 12-block network (seconds)
def test_cifar10_preset_builds_the_official_network():
    model = PixelSNAIL.from_preset("cifar10")
    assert model.output_shape == (None, 32, 32, 100)
    attention = model.get_layer(layer_names.attention_layer(11))
    # Queries from the features and the background, keys and values from
    # the image, the features and the background.
    assert attention.query_kernel.shape == (256 + 2, 16)
    assert attention.value_kernel.shape == (256 + 3 + 2, 128)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"image_shape": (8, 8)}, "image_shape"),
        ({"num_levels": 300}, "num_levels"),
        ({"num_blocks": 0}, "num_blocks"),
        ({"key_dim": 0}, "key_dim"),
        ({"dropout": 1.5}, "dropout"),
        ({"attention_dropout": -0.1}, "attention_dropout"),
        ({"num_classes": 1}, "num_classes"),
        ({"head": "softmax"}, "head"),
        ({"num_levels": 512}, "num_levels.*head='categorical'"),
        ({"num_levels": 2**16 + 1, "head": "categorical"}, "num_levels"),
        ({"input_encoding": "onehot"}, "input_encoding"),
        ({"embedding_dim": 0}, "embedding_dim"),
        ({"output_filters": 2, "image_shape": (4, 4, 3), "head": "categorical"}, "output_filters"),
        ({"num_filters": 2, "image_shape": (4, 4, 3), "head": "categorical"}, "num_filters"),
        ({"conditional_shape": (3, 3, 2)}, "conditional_shape"),
    ],
)
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        tiny_pixel_snail(**kwargs)


def test_misspelled_argument_is_named():
    with pytest.raises(TypeError, match="num_head.*did you mean `num_heads`"):
        tiny_pixel_snail(num_head=2)


@pytest.mark.slow
def test_fit_lowers_bits_per_dim_on_digits():
    images = helpers.digits(limit=256)
    model = tiny_pixel_snail(num_filters=16)
    # Plain Adam: the recipe's EMA weights (momentum 0.99, which fit leaves
    # in the model) would lag 24 steps behind.
    model.compile(optimizer=keras.optimizers.Adam(2e-3))
    before = model.evaluate(images, batch_size=64, verbose=0)
    model.fit(images, batch_size=32, epochs=3, verbose=0)
    after = model.evaluate(images, batch_size=64, verbose=0)
    assert after < before - 0.3, (before, after)
