"""Row LSTM and Diagonal BiLSTM PixelRNNs: causality, receptive fields,
likelihood, training, config and saving, presets."""

import itertools
import math

import numpy as np
import pytest

from pixel_keras import data
from pixel_keras import training
from pixel_keras.models import PIXEL_RNN_PRESETS
from pixel_keras.models import PixelRNN
from tests import helpers

KINDS = ("row_lstm", "diagonal_bilstm")


def layer_reads(kind, height, width):
    """bool `(H, W, H, W)`: the positions of a recurrent layer's input map,
    other than its own, that its output at each position reads.

    Row LSTM: the input at (r, c - 1), and through the state of the row
    above (3 taps) a triangle: (r - k, c - 1 - k .. c + k) for k >= 1.
    Diagonal BiLSTM: every earlier position in raster order.
    """
    reads = np.zeros((height, width, height, width), bool)
    for r, c in itertools.product(range(height), range(width)):
        if kind == "row_lstm":
            reads[r, c, r, max(c - 1, 0) : c] = True
            for k in range(1, r + 1):
                reads[r, c, r - k, max(c - 1 - k, 0) : c + k + 1] = True
        else:
            reads[r, c, :r] = True
            reads[r, c, r, :c] = True
    return reads


# --- Causality -----------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "image_shape, num_levels, num_classes",
    [
        ((4, 5, 3), 4, None),
        ((5, 5, 1), 17, None),
        ((4, 5, 3), 2, None),  # binarized: a Bernoulli per channel
        ((4, 4, 1), 2, None),
        ((3, 4, 3), 5, 3),  # class-conditional
    ],
)
def test_logits_are_autoregressive_in_pixels_and_channels(
    kind, image_shape, num_levels, num_classes
):
    model = helpers.tiny_pixel_rnn(
        kind,
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


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("num_layers, channels", [(1, 1), (2, 3)])
def test_receptive_field_matches_the_architecture(kind, num_layers, channels):
    # Exactly the sub-pixels that the mask-A window and the recurrences reach.
    height, width = 6, 8
    model = helpers.tiny_pixel_rnn(
        kind,
        image_shape=(height, width, channels),
        num_levels=4,
        num_filters=9,
        num_layers=num_layers,
        output_filters=18,
    )
    images = np.random.default_rng(1).integers(0, 4, size=(6, height, width, channels))
    if kind == "diagonal_bilstm":
        # No blind spot: every channel of every earlier pixel, and the
        # earlier channels of the pixel itself.
        size = height * width
        expected = np.zeros((size, channels, size, channels), bool)
        for i in range(size):
            expected[i, :, :i, :] = True
            for g in range(channels):
                expected[i, g, i, :g] = True
        expected = expected.reshape(height, width, channels, height, width, channels)
    else:
        reads = layer_reads(kind, height, width)
        expected = helpers.expected_dependencies((height, width, channels), [reads] * num_layers)
    np.testing.assert_array_equal(helpers.subpixel_dependencies(model, images), expected)


def test_row_lstm_sees_a_triangle_above():
    model = helpers.tiny_pixel_rnn("row_lstm", image_shape=(4, 8, 1), num_levels=4, num_filters=8)
    images = np.random.default_rng(2).integers(0, 4, size=(6, 4, 8, 1))
    seen = helpers.subpixel_dependencies(model, images)[3, 1, 0, ..., 0]
    # The 7-wide window reaches 3 columns right of (3, 1) in the row above,
    # the row recurrence one more column per row further up.
    for row, last_seen in ((2, 4), (1, 5), (0, 6)):
        np.testing.assert_array_equal(seen[row], np.arange(8) <= last_seen)
    np.testing.assert_array_equal(seen[3], np.arange(8) < 1)


def _earlier_pixels(height, width):
    flat = np.tril(np.ones((height * width, height * width), bool), k=-1)
    return flat.reshape(height, width, height, width)


@pytest.mark.parametrize("num_layers", [1, 2])
def test_diagonal_bilstm_sees_every_earlier_pixel(num_layers):
    model = helpers.tiny_pixel_rnn(
        "diagonal_bilstm",
        image_shape=(6, 6, 1),
        num_levels=4,
        num_filters=8,
        num_layers=num_layers,
    )
    images = np.random.default_rng(3).integers(0, 4, size=(6, 6, 6, 1))
    seen = helpers.subpixel_dependencies(model, images)[..., 0, :, :, 0]
    np.testing.assert_array_equal(seen, _earlier_pixels(6, 6))


def test_diagonal_bilstm_layer_alone_misses_the_end_of_the_row_above():
    # Why the model's first backward direction reads a mask-B view: the same
    # stack with the mask-A features alone never sees pixel (r - 1, W - 1)
    # from (r, c < W - 4), at any depth, since that pixel first appears in
    # features at row r, columns >= W - 4.
    import keras as keras_lib

    from pixel_keras.layers import DiagonalBiLSTM
    from pixel_keras.layers import MaskedConv2D

    height, width = 6, 6
    images = keras_lib.Input((height, width, 1))
    x = MaskedConv2D(8, 7, mask_type="A")(images)
    for _ in range(2):
        x = x + MaskedConv2D(8, 1)(DiagonalBiLSTM(4)(x))
    stack = keras_lib.Model(images, x)
    inputs = np.random.default_rng(3).normal(size=(2, height, width, 1))
    for r in range(1, height):
        maps = helpers.input_gradient_maps(stack, inputs, [(r, c) for c in range(width - 4)])
        for gradient in maps.values():
            assert gradient[r - 1, width - 1] == 0.0
            assert gradient[r - 1, width - 2] > 0.0


# --- Likelihood ----------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_log_prob_is_the_sum_of_per_subpixel_log_softmax(kind):
    model = helpers.tiny_pixel_rnn(kind, image_shape=(4, 5, 3), num_levels=6, num_classes=3)
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
    # Labels matter.
    other = model.log_prob(images, (labels + 1) % 3).numpy()
    assert not np.allclose(other, expected)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "image_shape, num_levels",
    [((2, 2, 1), 3), ((1, 2, 3), 2), ((2, 1, 2), 4)],
)
def test_pmf_sums_to_one_over_all_images(kind, image_shape, num_levels):
    # With sharpened logits the sum is far from one if any sub-pixel saw
    # itself or a later one.
    model = helpers.tiny_pixel_rnn(kind, image_shape=image_shape, num_levels=num_levels)
    images = helpers.all_images(image_shape, num_levels)
    helpers.sharpen(model, images)
    log_probs = model.log_prob(images).numpy().astype(np.float64)
    np.testing.assert_allclose(np.exp(log_probs).sum(), 1.0, atol=1e-5)
    np.testing.assert_allclose(log_probs, helpers.categorical_log_prob(model, images), atol=1e-4)


@pytest.mark.parametrize("kind", KINDS)
def test_fit_lowers_the_loss_on_digits(kind):
    images, _ = data.images_and_labels(data.load("digits").train, limit=128)
    images = images.astype("float32")
    model = helpers.tiny_pixel_rnn(kind, num_filters=8, output_filters=16)
    model.compile(optimizer=training.make_optimizer(learning_rate=3e-3))
    before = model.evaluate(images, batch_size=64, verbose=0)
    history = model.fit(images, batch_size=32, epochs=3, verbose=0, shuffle=False)
    after = model.evaluate(images, batch_size=64, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert after < before - 0.2, (before, after)
    np.testing.assert_allclose(after, model.bits_per_dim(images).numpy().mean(), rtol=1e-4)


# --- Config and saving -----------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_get_config_round_trip_gives_identical_log_prob(kind, tmp_path):
    model = helpers.tiny_pixel_rnn(
        kind, image_shape=(4, 4, 3), num_levels=8, num_layers=2, num_classes=3
    )
    images = np.random.default_rng(0).integers(0, 8, size=(3, 4, 4, 3))
    labels = np.array([2, 0, 1])
    assert model.get_config()["kind"] == kind
    helpers.check_model(model, images, labels, tmp_path=tmp_path)


@pytest.mark.parametrize("kind", KINDS)
def test_keras_save_and_load(kind, tmp_path):
    model = helpers.tiny_pixel_rnn(kind, image_shape=(4, 4, 3), num_levels=2)
    images = np.random.default_rng(0).integers(0, 2, size=(4, 4, 4, 3))
    loaded = helpers.check_model(model, images, tmp_path=tmp_path).loaded
    assert isinstance(loaded, PixelRNN) and loaded.kind == kind


def _num_params(kind, channels, num_levels, h, num_layers, output_filters):
    """Parameters of the documented architecture."""
    def conv(kernel, inputs, outputs, bias=True):
        return kernel * inputs * outputs + (outputs if bias else 0)

    num_logits = channels if num_levels == 2 else channels * num_levels
    total = conv(49, channels, 2 * h)
    if kind == "row_lstm":
        # 1 x 3 input-to-state, 3 taps of the row above, gate biases.
        lstm = conv(3, 2 * h, 4 * h, bias=False) + 3 * h * 4 * h + 4 * h
    else:
        # Two directions: 1 x 1 input-to-state, 2 x 1 state-to-state, biases;
        # and the mask-B input view of the first backward direction.
        lstm = 2 * (conv(1, 2 * h, 4 * h, bias=False) + 2 * h * 4 * h + 4 * h)
        total += conv(49, channels, 2 * h)
    residual, skip = conv(1, h, 2 * h), conv(1, 2 * h, 2 * h)
    total += num_layers * (lstm + residual + skip)
    return total + conv(1, 2 * h, output_filters) + conv(1, output_filters, num_logits)


@pytest.mark.parametrize("kind", KINDS)
def test_presets(kind):
    for name, preset in PIXEL_RNN_PRESETS.items():
        assert set(preset) == {
            "image_shape", "num_levels", "num_filters", "num_layers", "output_filters"
        }, name
        model = PixelRNN.from_preset(name, kind=kind)
        height, width, channels = preset["image_shape"]
        num_levels = preset["num_levels"]
        num_logits = channels if num_levels == 2 else channels * num_levels
        assert model.output_shape == (None, height, width, num_logits)
        assert model.count_params() == _num_params(
            kind,
            channels,
            num_levels,
            preset["num_filters"],
            preset["num_layers"],
            preset["output_filters"],
        ), name
    # The paper's CIFAR-10 models: 12 layers, h = 128.
    cifar = PIXEL_RNN_PRESETS["cifar10"]
    assert cifar["image_shape"] == (32, 32, 3) and cifar["num_levels"] == 256
    assert cifar["num_layers"] == 12 and cifar["num_filters"] == 128
    # The paper's binarized MNIST model: 7 layers, h = 16.
    mnist = PIXEL_RNN_PRESETS["binarized_mnist"]
    assert mnist["num_levels"] == 2 and mnist["image_shape"] == (28, 28, 1)
    assert mnist["num_layers"] == 7 and mnist["num_filters"] == 16
    # The default kind is the Diagonal BiLSTM; overrides leave the table alone.
    assert PixelRNN.from_preset("tiny").kind == "diagonal_bilstm"
    assert PixelRNN.from_preset("tiny", kind=kind, num_filters=4).num_filters == 4
    assert PIXEL_RNN_PRESETS["tiny"]["num_filters"] == 16
    with pytest.raises(ValueError, match="preset"):
        PixelRNN.from_preset("imagenet", kind=kind)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"kind": "gru"}, "kind"),
        ({"kind": "diagonal_lstm"}, "kind"),
        ({"image_shape": (8, 8, 3), "num_filters": 2}, "num_filters"),
        ({"image_shape": (8, 8, 3), "output_filters": 2}, "output_filters"),
        ({"num_layers": 0}, "num_layers"),
        ({"num_levels": 1}, "num_levels"),
        ({"num_levels": 2**16 + 1}, "num_levels"),
        ({"image_shape": (8, 8)}, "image_shape"),
        ({"image_shape": (8, 8, 0)}, "image_shape"),
        ({"num_classes": 1}, "num_classes"),
    ],
)
def test_bad_arguments_are_named(kwargs, match):
    kwargs = {"kind": "row_lstm", **kwargs}
    with pytest.raises(ValueError, match=match):
        helpers.tiny_pixel_rnn(**kwargs)


def test_bad_images_are_named():
    model = helpers.tiny_pixel_rnn("row_lstm")
    with pytest.raises(ValueError, match=r"images\.shape=\(2, 8, 7, 1\)"):
        model.log_prob(np.zeros((2, 8, 7, 1)))
