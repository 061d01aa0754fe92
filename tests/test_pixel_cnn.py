"""PixelCNN: sub-pixel causality, receptive field, likelihood, sampling, saving.

The helpers at the top (dependencies by gradients, an exact NumPy pmf, a
chi-square test of samples) are shared with tests/test_pixel_rnn.py.
"""

import itertools
import math

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy import special
from scipy import stats

from pixel_keras import data
from pixel_keras import sampling
from pixel_keras import training
from pixel_keras.models import PIXEL_CNN_PRESETS
from pixel_keras.models import PixelCNN

# --- Helpers shared with tests/test_pixel_rnn.py ------------------------------


def subpixel_dependencies(model, images, labels=None):
    """Which input sub-pixels the logits of each output sub-pixel depend on.

    The gradient of the logits of one sub-pixel with respect to the image
    is taken at several images, as a ReLU can hide a dependence at one of
    them. All in one backward pass: every image is repeated once per output
    sub-pixel and copy `k` back-propagates only the logits of sub-pixel `k`
    (the copies do not interact, as no layer mixes the batch).

    Args:
        model: a PixelCNN or PixelRNN.
        images: `(N, H, W, C)` integer-valued images.
        labels: int `(N,)` class labels for a class-conditional model.

    Returns:
        bool `(H, W, C, H, W, C)`: `[r, c, k]` marks the input sub-pixels
        that the logits of channel `k` at pixel `(r, c)` depend on at some
        of the images.
    """
    shape = model.image_shape
    size = math.prod(shape)
    images = np.asarray(images, np.float32)
    num = len(images)
    batch = tf.constant(np.repeat(images, size, 0))
    selector = np.tile(np.eye(size, dtype=np.float32), (num, 1))
    selector = selector.reshape(num * size, *shape, 1)
    if labels is not None:
        labels = np.repeat(np.asarray(labels, np.int32), size)
    with tf.GradientTape() as tape:
        tape.watch(batch)
        outputs = model(model.make_inputs(batch, labels), training=False)
        target = tf.reduce_sum(selector * model.channel_logits(outputs))
    gradient = np.abs(tape.gradient(target, batch).numpy())
    gradient = gradient.reshape(num, *shape, *shape).sum(axis=0)
    return gradient > 0


def expected_dependencies(image_shape, layer_reads):
    """The sub-pixel dependencies that a stack of masked layers allows.

    The 7 x 7 mask-A input convolution gives channel group `g` at position
    `q` every channel of the earlier pixels in its window and channels `< g`
    of pixel `q`. Every later layer gives group `g` at `p` what groups
    `<= g` at `p` had, and everything any group had at each other position
    it reads (other positions are read through all channel groups).

    Args:
        image_shape: `(H, W, C)`.
        layer_reads: for each layer after the input convolution, bool
            `(H, W, H, W)`: the positions other than itself whose features
            the layer's output at each position reads.

    Returns:
        bool `(H, W, C, H, W, C)`, as `subpixel_dependencies`.
    """
    height, width, channels = image_shape
    size = height * width
    seen = np.zeros((size, channels, size, channels), bool)
    seen |= window_a(height, width).reshape(size, 1, size, 1)
    for g in range(channels):
        seen[np.arange(size), g, np.arange(size), :g] = True
    for reads in layer_reads:
        everything = seen[:, -1].reshape(size, size * channels).astype(np.int64)
        reached = reads.reshape(size, size).astype(np.int64) @ everything > 0
        seen |= reached.reshape(size, 1, size, channels)
    return seen.reshape(height, width, channels, height, width, channels)


def assert_autoregressive(dependencies):
    """Raster order and R -> G -> B order, with dependence where it must be.

    The logits of channel `k` at pixel `i` depend on no pixel after `i` and
    on no channel `>= k` of `i`; they depend on some earlier pixel (when there
    is one) and, for `k > 0`, on channel `k - 1` of `i`.
    """
    height, width, channels = dependencies.shape[:3]
    flat = dependencies.reshape(height * width, channels, height * width, channels)
    for i, k in itertools.product(range(height * width), range(channels)):
        where = f"channel {k} of pixel {divmod(i, width)}"
        assert not flat[i, k, i + 1 :].any(), f"{where} depends on later pixels"
        assert not flat[i, k, i, k:].any(), f"{where} depends on channels >= {k}"
        if i > 0:
            assert flat[i, k, :i].any(), f"{where} depends on no earlier pixel"
        if k > 0:
            assert flat[i, k, i, k - 1], f"{where} ignores channel {k - 1}"


def window_a(height, width):
    """Earlier pixels inside the 7 x 7 mask-A window of each pixel."""
    field = np.zeros((height, width, height, width), bool)
    for r, c in itertools.product(range(height), range(width)):
        field[r, c, max(r - 3, 0) : r, max(c - 3, 0) : c + 4] = True
        field[r, c, r, max(c - 3, 0) : c] = True
    return field


def all_images(image_shape, num_levels):
    """Every image of `image_shape` with values in `[0, num_levels)`."""
    values = itertools.product(range(num_levels), repeat=math.prod(image_shape))
    return np.array(list(values), np.int64).reshape(-1, *image_shape)


def image_index(images, num_levels):
    """The row of each image in `all_images` (last sub-pixel fastest)."""
    flat = np.asarray(images, np.int64).reshape(len(images), -1)
    return flat @ num_levels ** np.arange(flat.shape[1] - 1, -1, -1)


def reference_log_prob(model, images, labels=None, temperature=1.0):
    """log p(images) in float64: log-softmax of each sub-pixel's logits at its
    value, summed, for logits divided by `temperature`."""
    images = np.asarray(images)
    outputs = model(model.make_inputs(images, labels), training=False)
    logits = model.channel_logits(outputs).numpy().astype(np.float64) / temperature
    log_softmax = logits - special.logsumexp(logits, axis=-1, keepdims=True)
    picked = np.take_along_axis(log_softmax, images[..., None].astype(np.int64), -1)
    return picked.sum(axis=(1, 2, 3, 4))


def sharpen(model, images, std=2.5):
    """Scales the last layer's kernel so that the logits at `images` have
    standard deviation `std` (about 0.02 at initialization): the conditionals
    are then far from uniform and far from one another, so that a wrong
    likelihood or sampler would show. The output stack after the last
    nonlinearity is linear without biases at initialization, so the logits
    scale with the kernel."""
    outputs = model(np.asarray(images, np.float32), training=False)
    layer = model.get_layer("logits")
    layer.kernel.assign(layer.kernel * (std / float(np.std(outputs))))


def sample_fit_p_value(samples, log_probs, num_levels):
    """Chi-square p-value of sampled images against exact `log_probs` over
    `all_images` (outcomes expected fewer than 5 times are pooled)."""
    counts = np.bincount(image_index(samples, num_levels), minlength=len(log_probs))
    probs = np.exp(log_probs - special.logsumexp(log_probs))
    expected = probs * len(samples)
    small = expected < 5
    if small.any():
        counts = np.append(counts[~small], counts[small].sum())
        expected = np.append(expected[~small], expected[small].sum())
    return stats.chisquare(counts, expected).pvalue


def independent_log_probs(log_probs, images):
    """log pmf of the sub-pixels drawn independently from their marginals."""
    probs = np.exp(log_probs)
    flat = np.asarray(images).reshape(len(images), -1)
    result = np.zeros(len(images))
    for column in flat.T:
        marginal = np.bincount(column, weights=probs)
        result += np.log(marginal[column])
    return result


# --- Models --------------------------------------------------------------------


def tiny_pixel_cnn(**overrides):
    """A small PixelCNN built from the `tiny` preset."""
    config = {"num_filters": 6, "num_layers": 1, "output_filters": 12}
    config.update(overrides)
    return PixelCNN.from_preset("tiny", **config)


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
    model = tiny_pixel_cnn(
        image_shape=image_shape,
        num_levels=num_levels,
        num_filters=9,
        num_layers=2,
        output_filters=18,
        num_classes=num_classes,
    )
    images = np.random.default_rng(0).integers(0, num_levels, size=(6, *image_shape))
    labels = None if num_classes is None else [0, 1, 2, 0, 1, 2]
    assert_autoregressive(subpixel_dependencies(model, images, labels))


@pytest.mark.parametrize("num_layers, channels", [(1, 1), (2, 3), (3, 1)])
def test_receptive_field_is_the_mask_a_window_grown_by_each_block(num_layers, channels):
    # Exactly the sub-pixels that the masks allow, and every one of them.
    height, width = 7, 9
    model = tiny_pixel_cnn(
        image_shape=(height, width, channels),
        num_levels=4,
        num_filters=12,
        num_layers=num_layers,
        output_filters=24,
    )
    images = np.random.default_rng(1).integers(0, 4, size=(6, height, width, channels))
    reads = pixel_cnn_layer_reads(height, width)
    expected = expected_dependencies((height, width, channels), [reads] * num_layers)
    np.testing.assert_array_equal(subpixel_dependencies(model, images), expected)


def test_blind_spot_above_right():
    # The 7 x 7 mask-A window reaches 3 columns right in the rows above, and
    # each 3 x 3 mask-B block one more column per row further up: however
    # deep the network, pixel (r, c) never sees (r - d, c + d + 3) and beyond
    # (d >= 1), although all of them come earlier in raster order.
    model = tiny_pixel_cnn(
        image_shape=(4, 8, 1), num_levels=4, num_filters=8, num_layers=4
    )
    images = np.random.default_rng(2).integers(0, 4, size=(6, 4, 8, 1))
    seen = subpixel_dependencies(model, images)[..., 0, :, :, 0]
    np.testing.assert_array_equal(seen[1, 0, 0], np.arange(8) < 4)
    for row, last_seen in ((2, 4), (1, 5), (0, 6)):
        np.testing.assert_array_equal(seen[3, 1, row], np.arange(8) <= last_seen)
    np.testing.assert_array_equal(seen[3, 1, 3], np.arange(8) < 1)


def test_log_prob_is_the_sum_of_per_subpixel_log_softmax():
    model = tiny_pixel_cnn(image_shape=(4, 5, 3), num_levels=6, num_classes=3)
    images = np.random.default_rng(0).integers(0, 6, size=(3, 4, 5, 3))
    labels = np.array([0, 2, 1])
    distribution = model.distribution(images, labels)
    assert distribution.batch_shape == (3,)
    assert distribution.event_shape == (4, 5, 3)
    expected = reference_log_prob(model, images, labels)
    np.testing.assert_allclose(distribution.log_prob(images), expected, rtol=1e-5)
    np.testing.assert_allclose(model.log_prob(images, labels), expected, rtol=1e-5)
    bits = model.bits_per_dim(images, labels).numpy()
    np.testing.assert_allclose(bits, -expected / (4 * 5 * 3 * math.log(2.0)), rtol=1e-5)


def test_bernoulli_log_prob_is_the_sum_of_log_sigmoids():
    model = tiny_pixel_cnn(image_shape=(3, 4, 3), num_levels=2)
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
    model = tiny_pixel_cnn(image_shape=image_shape, num_levels=num_levels)
    images = all_images(image_shape, num_levels)
    sharpen(model, images)
    log_probs = model.log_prob(images).numpy().astype(np.float64)
    np.testing.assert_allclose(np.exp(log_probs).sum(), 1.0, atol=1e-5)
    np.testing.assert_allclose(log_probs, reference_log_prob(model, images), atol=1e-4)


def test_fit_lowers_the_loss_on_digits():
    images, _ = data.images_and_labels(data.load("digits").train, limit=128)
    images = images.astype("float32")
    model = tiny_pixel_cnn(num_filters=8, output_filters=16)
    model.compile(optimizer=training.make_optimizer(learning_rate=3e-3))
    before = model.evaluate(images, batch_size=64, verbose=0)
    history = model.fit(images, batch_size=32, epochs=3, verbose=0, shuffle=False)
    after = model.evaluate(images, batch_size=64, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert after < before - 0.2, (before, after)
    # The loss is the model's bits/dim.
    np.testing.assert_allclose(after, model.bits_per_dim(images).numpy().mean(), rtol=1e-4)


def test_get_config_round_trip_gives_identical_log_prob():
    model = tiny_pixel_cnn(image_shape=(4, 4, 3), num_levels=8, num_layers=2, num_classes=3)
    images = np.random.default_rng(0).integers(0, 8, size=(3, 4, 4, 3))
    labels = np.array([2, 0, 1])
    config = model.get_config()
    clone = PixelCNN.from_config(config)
    assert clone.get_config() == config
    clone.set_weights(model.get_weights())
    np.testing.assert_array_equal(
        clone.log_prob(images, labels), model.log_prob(images, labels)
    )


def test_keras_save_and_load(tmp_path):
    model = tiny_pixel_cnn(image_shape=(4, 4, 3), num_levels=2)
    images = np.random.default_rng(0).integers(0, 2, size=(4, 4, 4, 3))
    model.compile(optimizer="adam")
    model.fit(images.astype("float32"), epochs=1, verbose=0)
    path = str(tmp_path / "pixel_cnn.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, PixelCNN)
    assert loaded.get_config() == model.get_config()
    np.testing.assert_array_equal(loaded.log_prob(images), model.log_prob(images))


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
        tiny_pixel_cnn(**kwargs)


def test_bad_images_are_named():
    model = tiny_pixel_cnn()
    with pytest.raises(ValueError, match=r"images\.shape=\(2, 8, 8, 3\)"):
        model.log_prob(np.zeros((2, 8, 8, 3)))


# --- Sampling ------------------------------------------------------------------


@pytest.fixture(scope="module")
def rgb_model():
    keras.utils.set_random_seed(7)
    model = tiny_pixel_cnn(image_shape=(3, 3, 3), num_levels=5)
    sharpen(model, np.random.default_rng(7).integers(0, 5, size=(8, 3, 3, 3)))
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
    model = tiny_pixel_cnn(image_shape=(3, 3, 1), num_levels=5, num_classes=3)
    images = np.random.default_rng(0).integers(0, 5, size=(2, 3, 3, 1)).astype("float32")
    a = model(model.make_inputs(images, [0, 0])).numpy()
    b = model(model.make_inputs(images, [1, 2])).numpy()
    assert not np.allclose(a, b)
    samples = model.sample(2, seed=1, labels=[0, 2]).numpy()
    assert samples.shape == (2, 3, 3, 1) and samples.max() <= 4
    with pytest.raises(ValueError, match=r"labels.*\[0, 3\)"):
        model.sample(2, seed=1, labels=[0, 3])
    with pytest.raises(ValueError, match=r"labels.*\[0, 3\)"):
        model.sample(2, seed=1, labels=[-1, 0])
    with pytest.raises(ValueError, match="labels"):
        model.sample(2, seed=1)
    with pytest.raises(ValueError, match="labels"):
        model.log_prob(images)
    with pytest.raises(ValueError, match="not class-conditional"):
        tiny_pixel_cnn().sample(1, seed=1, labels=[0])


@pytest.mark.parametrize(
    "image_shape, num_levels, temperature",
    [((1, 1, 3), 3, 1.0), ((2, 2, 1), 3, 1.0), ((1, 2, 2), 2, 0.6)],
)
def test_samples_follow_the_model_pmf(image_shape, num_levels, temperature):
    # The frequencies of sampled images match the exact (tempered) pmf
    # computed from the logits over every possible image.
    model = tiny_pixel_cnn(image_shape=image_shape, num_levels=num_levels)
    images = all_images(image_shape, num_levels)
    sharpen(model, images)
    log_probs = reference_log_prob(model, images, temperature=temperature)
    if temperature == 1.0:
        np.testing.assert_allclose(model.log_prob(images), log_probs, atol=1e-4)
    samples = model.sample(2000, seed=21, temperature=temperature).numpy()
    assert samples.dtype == np.uint8 and samples.shape == (2000, *image_shape)
    assert sample_fit_p_value(samples, log_probs, num_levels) > 1e-3
    # The test has power: the pmf with every sub-pixel drawn from its
    # marginal does not fit, nor, for a tempered sampler, the untempered pmf.
    independent = independent_log_probs(log_probs, images)
    assert sample_fit_p_value(samples, independent, num_levels) < 1e-6
    if temperature != 1.0:
        untempered = reference_log_prob(model, images)
        assert sample_fit_p_value(samples, untempered, num_levels) < 1e-6
