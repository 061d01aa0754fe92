"""PixelSNAIL with a softmax per sub-pixel (`head="categorical"`): a
normalized likelihood, R -> G -> B order, the cached sampler against the
naive one (XLA; the shared checks are test_cached_sampler.py's), the base's
entry points, the codec, and 65,536 levels."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from pixel_keras import compression
from pixel_keras import sampling
from pixel_keras.models import PixelSNAIL
from pixel_keras.serving import serving_functions
from tests import helpers


def _model(perturb=0.05, **overrides):
    config = dict(
        num_filters=8,
        key_dim=4,
        value_dim=6,
        dropout=0.0,
        head="categorical",
        output_filters=12,
    )
    config.update(overrides)
    helpers.set_random_seed(0)
    return helpers.perturb_weights(PixelSNAIL.from_preset("tiny", **config), perturb)


# (overrides): unordered codes in one channel (the VQ-VAE-2 prior's case);
# colour with one-hot values and class labels, whose channels read the
# earlier ones through the head's mask-A convolution.
CONFIGS = {
    "codes": dict(image_shape=(4, 5, 1), num_levels=11, input_encoding="embedding"),
    "rgb_one_hot_classes": dict(
        image_shape=(3, 4, 3), num_levels=5, input_encoding="one_hot", num_heads=2, num_classes=3
    ),
}


@pytest.mark.parametrize(
    "image_shape, input_encoding",
    # 3 levels: 81 images either way; the second through the head's mask-A
    # convolution (channel 1 reads channel 0 of its pixel).
    [((2, 2, 1), "one_hot"), ((1, 2, 2), "scaled")],
)
def test_pmf_sums_to_one_over_every_image(image_shape, input_encoding):
    model = _model(
        perturb=0.3, image_shape=image_shape, num_levels=3, input_encoding=input_encoding
    )
    grid = helpers.all_images(image_shape, 3)
    log_probs = model.log_prob(grid).numpy().astype(np.float64)
    np.testing.assert_allclose(np.exp(log_probs).sum(), 1.0, atol=1e-5)
    # Not the uniform distribution, which would sum to one for any model.
    assert np.ptp(log_probs) > 0.1
    np.testing.assert_allclose(log_probs, helpers.categorical_log_prob(model, grid), atol=1e-5)


def test_channels_and_pixels_in_raster_order_by_gradients():
    # Channel k of pixel i reads every earlier pixel (the attention) and
    # channels < k of pixel i (the head's mask-A convolution), nothing else.
    image_shape = (3, 3, 3)
    model = _model(perturb=0.1, image_shape=image_shape, num_levels=8)
    images = np.random.default_rng(0).integers(0, 8, (3, *image_shape))
    dependencies = helpers.subpixel_dependencies(model, images)
    helpers.assert_autoregressive(dependencies)
    flat = dependencies.reshape(9, 3, 9, 3)
    for i in range(9):
        assert flat[i, :, :i].all(), i


def test_output_layout_and_head_arguments():
    model = _model(image_shape=(3, 4, 3), num_levels=5)
    assert model.output_shape == (None, 3, 4, 15)
    assert model.samples_subpixels and model.sample_dtype == tf.uint8
    assert model.get_layer("output_1").filters == 12
    binary = _model(image_shape=(2, 2, 2), num_levels=2)
    assert binary.output_shape == (None, 2, 2, 2)  # one Bernoulli logit per channel
    mixture = PixelSNAIL.from_preset("tiny", num_filters=8, key_dim=4, value_dim=6)
    assert not mixture.samples_subpixels
    with pytest.raises(ValueError, match="head='categorical'"):
        mixture.channel_logits(np.zeros((1, 4), "float32"))


@pytest.mark.slow  # XLA compiles of the sample and completion loops: about 10 s
def test_xla_compiled_loop_draws_the_same_images_as_the_plain_one():
    model = _model(**CONFIGS["rgb_one_hot_classes"])
    seeds = sampling.per_image_seeds(7, 2)
    kwargs = {"condition": np.array([2, 0]), "temperature": 0.8}
    plain = model.sample(2, seed=seeds, jit_compile=False, **kwargs).numpy()
    np.testing.assert_array_equal(
        model.sample(2, seed=seeds, jit_compile=True, **kwargs).numpy(), plain
    )
    known = np.zeros(plain.shape[:3], bool)
    known[:, :2] = True
    np.testing.assert_array_equal(
        model.complete(plain, known, seed=seeds, jit_compile=True, **kwargs).numpy(),
        model.complete(plain, known, seed=seeds, jit_compile=False, **kwargs).numpy(),
    )


def test_fit_distribution_and_as_distribution_agree():
    model = _model(**CONFIGS["codes"])
    images = np.random.default_rng(3).integers(0, 11, (4, 4, 5, 1))
    bits = model.bits_per_dim(images).numpy()
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    np.testing.assert_allclose(
        model.evaluate(images.astype("float32"), batch_size=4, verbose=0), bits.mean(), rtol=1e-5
    )
    np.testing.assert_allclose(
        model.distribution(images).log_prob(images.astype("float32")).numpy(),
        model.log_prob(images).numpy(),
        rtol=1e-6,
    )
    distribution = model.as_distribution()
    np.testing.assert_allclose(
        distribution.log_prob(images).numpy(), model.log_prob(images).numpy(), rtol=1e-6
    )
    drawn = distribution.sample(2, seed=[1, 2]).numpy()
    assert drawn.shape == (2, 4, 5, 1) and drawn.max() < 11


def test_export_signatures_sample_like_the_naive_loop():
    model = _model(**CONFIGS["rgb_one_hot_classes"])
    function, signature = serving_functions(model)["sample_with_temperature"]
    traced = tf.function(function, input_signature=signature)
    seeds = sampling.per_image_seeds(3, 2)
    inputs = {"seed": seeds, "temperature": np.float32([1.0, 0.7]), "condition": np.int32([1, 2])}
    outputs = traced(**{spec.name: tf.constant(inputs[spec.name]) for spec in signature})
    expected = model.sample(
        2, seed=seeds, condition=[1, 2], temperature=inputs["temperature"], method="naive"
    )
    (images,) = [value for value in outputs.values() if value.shape.rank == 4]
    np.testing.assert_array_equal(images.numpy(), expected.numpy())
    # The sub-pixel passes (the output stack's blocks, the pixel's mask-A
    # 1 x 1) broadcast no batched matmul either (tensorflow#117700).
    assert not helpers.broadcasting_matmuls(traced.get_concrete_function().graph)


def _assert_round_trip(model, images, condition=None):
    data = compression.compress(model, images, condition, batch_size=2)
    decoded = compression.decompress(model, data)
    assert decoded.dtype == model.sample_dtype.as_numpy_dtype
    np.testing.assert_array_equal(decoded, images)
    code_bits = -float(np.sum(model.log_prob(images, condition).numpy())) / math.log(2.0)
    header = compression.read_header(data)
    payload_bits = 8 * sum(chunk.num_bytes for chunk in header.chunks)
    assert 0.99 * code_bits <= payload_bits <= 1.01 * code_bits + 64 * len(header.chunks)


def test_compression_round_trip_channel_by_channel():
    model = _model(**CONFIGS["rgb_one_hot_classes"])
    images = np.random.default_rng(4).integers(0, 5, (3, 3, 4, 3)).astype(np.uint8)
    _assert_round_trip(model, images, np.array([0, 1, 2]))


def test_65536_levels_fit_sample_and_compress():
    levels = 2**16
    model = _model(
        image_shape=(3, 4, 1),
        num_levels=levels,
        input_encoding="embedding",
        embedding_dim=4,
        output_filters=8,
    )
    assert model.output_shape == (None, 3, 4, levels) and model.sample_dtype == tf.int32
    images = np.random.default_rng(5).integers(0, levels, (2, 3, 4, 1)).astype(np.int32)
    images[0, 0, 0, 0], images[1, -1, -1, 0] = 0, levels - 1
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    history = model.fit(images.astype("float32"), batch_size=2, epochs=1, verbose=0)
    # About 16 bits per code at first: an untrained softmax over 2**16.
    assert 15.0 < history.history["loss"][0] < 17.0
    samples = model.sample(2, seed=0).numpy()
    assert samples.dtype == np.int32 and samples.shape == (2, 3, 4, 1)
    assert samples.min() >= 0 and samples.max() < levels and len(np.unique(samples)) > 2
    # (Its draws against the naive loop's: the other tests, at fewer levels.)
    _assert_round_trip(model, images)
