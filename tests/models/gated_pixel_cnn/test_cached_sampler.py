"""The Gated PixelCNN's cached sampler: the same network at every sub-pixel,
the same draws as the naive sampler (the checks the PixelRNN paper's models'
samplers go through, tests/helpers/cached_samplers.py)."""

import numpy as np
import pytest
import tensorflow as tf

from pixel_keras import sampling
from pixel_keras.models import GatedPixelCNN
from pixel_keras.models.gated_pixel_cnn import cached_sampler
from tests import helpers

# name -> constructor arguments: colour and grey, categorical and Bernoulli,
# labels, 1 to 3 layers, n = 3 and 5; heights and widths differ.
CONFIGS = {
    "rgb": dict(image_shape=(5, 6, 3), num_levels=4, num_filters=6, num_layers=2),
    "grey_classes": dict(
        image_shape=(6, 5, 1), num_levels=17, num_filters=3, num_layers=3, num_classes=3
    ),
    "rgb_bernoulli_classes_5x5": dict(
        image_shape=(4, 5, 3), num_levels=2, num_filters=6, num_layers=2,
        kernel_size=5, num_classes=2,
    ),
    "one_layer": dict(image_shape=(3, 4, 1), num_levels=5, num_filters=4, num_layers=1),
}


def gated_model(**arguments):
    helpers.set_random_seed(0)
    arguments = dict({"kernel_size": 3, "output_filters": 6}, **arguments)
    return helpers.perturb_weights(GatedPixelCNN(**arguments), 0.3)


@pytest.fixture(scope="module", params=sorted(CONFIGS))
def model(request):
    return gated_model(**CONFIGS[request.param])


def test_cached_logits_equal_the_network_on_any_image(model):
    helpers.assert_cached_logits_equal_the_network(model, cached_sampler)


def _slow_for(*slow_configs):
    """The configurations as `model` parameters, `slow_configs` with the
    slow tests (each over 3 s on 2 cores, an XLA compile or a long naive
    loop; the others cover the same code)."""
    return pytest.mark.parametrize(
        "model",
        [
            pytest.param(config, marks=[pytest.mark.slow] if config in slow_configs else [])
            for config in sorted(CONFIGS)
        ],
        indirect=True,
    )


@_slow_for("rgb_bernoulli_classes_5x5")
def test_cached_and_naive_samples_are_identical(model):
    helpers.assert_cached_and_naive_samples_identical(model, cached_sampler)


@_slow_for("grey_classes")
def test_cached_and_naive_completions_are_identical(model):
    helpers.assert_cached_and_naive_completions_identical(model)


def test_known_row_equals_the_pixel_passes(model):
    # As `helpers.assert_known_row_equals_the_pixel_passes`, for a state
    # that is a tuple (the row, the vertical stack, its history).
    generator = np.random.default_rng(3)
    batch = helpers.SUBPIXEL_BATCH
    condition = helpers.class_labels(model, batch)
    if condition is not None:
        condition = tf.constant(condition, tf.int32)
    network = cached_sampler._GatedPixelCNNNetwork(model, condition, batch)
    row, vertical, history = network.initial_state()
    state = (
        row,
        tf.constant(generator.normal(size=vertical.shape), tf.float32),
        tf.constant(generator.normal(size=history.shape), tf.float32),
    )
    row_context = network.begin_row(state)
    width = model.image_shape[1]
    features = tf.constant(
        generator.normal(size=(width, batch, 2 * model.num_filters)), tf.float32
    )
    carry, expected = network.initial_carry(), []
    for col in range(width):
        pixel_context = network.begin_pixel(row_context, carry, col)
        _, activations = network.forward(
            pixel_context, features[col], model.image_shape[-1] - 1
        )
        carry, record = network.end_pixel(activations, carry)
        expected.append(record)
    expected = tf.stack(expected).numpy()
    actual = network.known_row(row_context, features).numpy()
    if model.num_layers > 1:
        assert np.std(expected) > 0.1
    np.testing.assert_allclose(actual, expected, atol=1e-5, rtol=1e-5)


def test_cached_loop_traces_with_one_image_and_with_an_unknown_batch():
    model = gated_model(**CONFIGS["grey_classes"])
    helpers.assert_cached_loop_traces_with_one_image_and_an_unknown_batch(model)


@pytest.mark.parametrize(
    "conditional_shape, encoding",
    [
        pytest.param((2, 3), "embedding", marks=pytest.mark.slow),
        ((7,), "one_hot"),
        pytest.param((4, 5, 2), "scaled", marks=pytest.mark.slow),
        ((2, 5, 3), "embedding"),
    ],
)
def test_cached_sampler_reads_encodings_vectors_and_maps(conditional_shape, encoding):
    # Flattened values, a vector, a map of the image's size and a smaller
    # map upsampled to it.
    model = gated_model(
        image_shape=(4, 5, 3), num_levels=5, num_filters=6, num_layers=2,
        conditional_shape=conditional_shape, input_encoding=encoding, embedding_dim=3,
    )
    generator = np.random.default_rng(1)
    batch = helpers.SUBPIXEL_BATCH
    images = generator.integers(0, 5, (batch, *model.image_shape))
    condition = generator.normal(size=(batch, *conditional_shape)).astype("float32")
    np.testing.assert_allclose(
        cached_sampler.cached_logits(model, images, condition),
        helpers.network_logits(model, images, condition),
        atol=1e-5,
        rtol=1e-5,
    )
    seeds = sampling.per_image_seeds(4, batch)
    naive = model.sample(batch, seed=seeds, condition=condition, method="naive")
    fast = model.sample(batch, seed=seeds, condition=condition, method="cached")
    np.testing.assert_array_equal(fast.numpy(), naive.numpy())


@pytest.mark.parametrize("config", ["grey_classes", "one_layer"])
def test_no_matmul_broadcasts_its_batch(config):
    # tests/test_no_broadcast_matmul.py says why (a oneDNN heap corruption).
    model = gated_model(**CONFIGS[config])
    batch = 2
    shape = model.image_shape
    condition = None
    if model.num_classes is not None:
        condition = tf.TensorSpec([batch], tf.int32)
    traced = {
        "cached": tf.function(
            lambda images, known, seeds, condition, temperature: sampling.draw(
                model, images, known, seeds, condition, temperature, "cached"
            )
        ).get_concrete_function(
            tf.TensorSpec([batch, *shape], tf.float32),
            tf.TensorSpec([batch, *shape[:2]], tf.bool),
            tf.TensorSpec([batch, 2], tf.int32),
            condition,
            tf.TensorSpec([batch], tf.float32),
        ),
        "teacher-forced": tf.function(
            lambda images, condition: cached_sampler.cached_logits(model, images, condition)
        ).get_concrete_function(tf.TensorSpec([batch, *shape], tf.float32), condition),
    }
    for name, function in traced.items():
        assert not helpers.broadcasting_matmuls(function.graph), name
