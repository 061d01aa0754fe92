"""The cached-sampler checks the PixelCNN and PixelRNN folders share."""

import numpy as np
import tensorflow as tf

from pixel_keras import sampling
from pixel_keras.models import PixelCNN
from pixel_keras.models import PixelRNN

from tests.helpers.models import perturb_weights
from tests.helpers.seeding import set_random_seed

# (image_shape, num_levels, num_filters, num_classes): colour and grey,
# categorical and Bernoulli, with and without labels; heights and widths
# differ so that rows and columns cannot be swapped unnoticed.
SUBPIXEL_CONFIGS = {
    "rgb": ((5, 6, 3), 4, 4, None),
    "grey_classes": ((6, 5, 1), 17, 3, 3),
    "rgb_bernoulli_classes": ((4, 5, 3), 2, 5, 2),
}
SUBPIXEL_BATCH = 3


def subpixel_model(kind, **arguments):
    """A PixelCNN (`kind="pixel_cnn"`) or PixelRNN of 2 layers, its weights
    moved off their initial values (zero biases, forget gates at 1) so that
    every weight changes the logits noticeably."""
    set_random_seed(0)
    arguments = dict(num_layers=2, output_filters=6, **arguments)
    if kind == "pixel_cnn":
        model = PixelCNN(**arguments)
    else:
        model = PixelRNN(kind=kind, **arguments)
    return perturb_weights(model, 0.3)


def subpixel_model_of_config(kind, config):
    """`subpixel_model` of one of `SUBPIXEL_CONFIGS`."""
    image_shape, num_levels, num_filters, num_classes = SUBPIXEL_CONFIGS[config]
    return subpixel_model(
        kind,
        image_shape=image_shape,
        num_levels=num_levels,
        num_filters=num_filters,
        num_classes=num_classes,
    )


def class_labels(model, num):
    """`num` valid class labels for a class-conditional model, else None."""
    if model.num_classes is None:
        return None
    return np.arange(num) % model.num_classes


def network_logits(model, images, condition):
    """The full network's per-channel logits at `images`."""
    outputs = model(model.make_inputs(images, condition), training=False)
    return model.channel_logits(outputs).numpy()


def assert_cached_logits_equal_the_network(model, sampler):
    """Random images exercise every cache (rows above, pixels to the left,
    centre taps, the backward scan) against the full network at every
    sub-pixel."""
    generator = np.random.default_rng(1)
    images = generator.integers(0, model.num_levels, (SUBPIXEL_BATCH, *model.image_shape))
    condition = class_labels(model, SUBPIXEL_BATCH)
    expected = network_logits(model, images, condition)
    actual = sampler.cached_logits(model, images, condition)
    assert actual.shape == expected.shape
    # Not a trivial match: the logits vary between sub-pixels.
    assert np.std(expected) > 0.1
    np.testing.assert_allclose(actual, expected, atol=1e-5, rtol=1e-5)


def assert_cached_and_naive_samples_identical(model, sampler):
    seeds = sampling.per_image_seeds(5, SUBPIXEL_BATCH)
    temperature = np.array([1.0, 0.5, 2.0], np.float32)
    condition = class_labels(model, SUBPIXEL_BATCH)
    kwargs = {"condition": condition, "temperature": temperature}
    naive = model.sample(SUBPIXEL_BATCH, seed=seeds, method="naive", **kwargs).numpy()
    fast = model.sample(SUBPIXEL_BATCH, seed=seeds, method="cached", **kwargs).numpy()
    np.testing.assert_array_equal(fast, naive)
    assert len(np.unique(fast)) > 1
    # `sample` compiles the cached loop with XLA by default (the tests turn
    # that off: conftest); the export runs it plain. Checked for the two
    # labelled configurations (a softmax and a sigmoid head): each XLA
    # compile costs seconds.
    if model.num_classes is not None:
        compiled = model.sample(
            SUBPIXEL_BATCH, seed=seeds, jit_compile=True, **kwargs
        ).numpy()
        np.testing.assert_array_equal(compiled, naive)
    # Teacher forcing: the cached loop, given its own samples, recomputes
    # the logits it drew them from; they are the network's at those images.
    np.testing.assert_allclose(
        sampler.cached_logits(model, fast, condition),
        network_logits(model, fast, condition),
        atol=1e-5,
        rtol=1e-5,
    )


def assert_cached_and_naive_completions_identical(model):
    """Random known pixels (the pixel loop from row 0), and the first two
    rows known in every image (the teacher-forced pass over them, then the
    pixel loop), with one image entirely known."""
    generator = np.random.default_rng(2)
    images = generator.integers(0, model.num_levels, (SUBPIXEL_BATCH, *model.image_shape))
    random_known = generator.random((SUBPIXEL_BATCH, *model.image_shape[:2])) < 0.5
    top_known = random_known.copy()
    top_known[:, :2] = True
    for known in (random_known, top_known):
        known[0] = True
        kwargs = {
            "condition": class_labels(model, SUBPIXEL_BATCH),
            "seed": 9,
            "known_mask": known,
        }
        naive = model.complete(images, method="naive", **kwargs).numpy()
        fast = model.complete(images, method="cached", **kwargs).numpy()
        np.testing.assert_array_equal(fast, naive)
        np.testing.assert_array_equal(fast[known], images[known])
        assert not np.array_equal(fast[~known], images[~known])
    # The teacher-forced rows compiled with XLA, as `complete` runs them by
    # default (the tests turn that off: conftest); one configuration, each
    # compile costing seconds.
    if model.num_classes is not None and model.num_levels > 2:
        compiled = model.complete(images, jit_compile=True, **kwargs).numpy()
        np.testing.assert_array_equal(compiled, naive)


def assert_cached_loop_traces_with_one_image_and_an_unknown_batch(model):
    """For a fresh model of `"grey_classes"`: the first trace has a batch of 1
    (a static dimension that broadcasting does not keep), and then, as in an
    exported serving function, a batch that is None at trace time."""
    shape = model.image_shape
    seeds = sampling.per_image_seeds(3, 2)
    condition = np.array([2, 0], np.int32)
    temperature = np.array([1.0, 0.8], np.float32)
    alone = model.sample(
        1, seed=seeds[:1], condition=condition[:1], temperature=temperature[:1]
    ).numpy()

    @tf.function(
        input_signature=[
            tf.TensorSpec([None, *shape], tf.float32),
            tf.TensorSpec([None, *shape[:2]], tf.bool),
            tf.TensorSpec([None, 2], tf.int32),
            tf.TensorSpec([None], tf.int32),
            tf.TensorSpec([None], tf.float32),
        ]
    )
    def draw(images, known, seeds, condition, temperature):
        return sampling.draw(model, images, known, seeds, condition, temperature, method="cached")

    images = tf.zeros([2, *shape])
    known = tf.zeros([2, *shape[:2]], tf.bool)
    images = draw(images, known, seeds, condition, temperature).numpy()
    expected = model.sample(
        2, seed=seeds, condition=condition, temperature=temperature, method="naive"
    )
    np.testing.assert_array_equal(images, expected)
    np.testing.assert_array_equal(alone, images[:1])


def assert_cached_sampler_reads_embedded_pixels_and_condition_values(kind, sampler):
    """A learned table per channel feeds `input_conv` several features per
    channel, and a conditioning map (not labels) feeds every layer."""
    model = subpixel_model(
        kind,
        image_shape=(4, 5, 3),
        num_levels=5,
        num_filters=4,
        conditional_shape=(2, 3),
        input_encoding="embedding",
        embedding_dim=3,
    )
    generator = np.random.default_rng(1)
    images = generator.integers(0, 5, (SUBPIXEL_BATCH, *model.image_shape))
    condition = generator.normal(size=(SUBPIXEL_BATCH, 2, 3)).astype("float32")
    np.testing.assert_allclose(
        sampler.cached_logits(model, images, condition),
        network_logits(model, images, condition),
        atol=1e-5,
        rtol=1e-5,
    )
    seeds = sampling.per_image_seeds(4, SUBPIXEL_BATCH)
    naive = model.sample(SUBPIXEL_BATCH, seed=seeds, condition=condition, method="naive")
    fast = model.sample(SUBPIXEL_BATCH, seed=seeds, condition=condition, method="cached")
    np.testing.assert_array_equal(fast.numpy(), naive.numpy())


def assert_known_row_equals_the_pixel_passes(model, network_class):
    """A network's `known_row` (a whole known row at once, for the rows
    above a completion's first unknown pixel) gives the records that its
    per-pixel passes give, from any state and any input features."""
    generator = np.random.default_rng(3)
    condition = class_labels(model, SUBPIXEL_BATCH)
    if condition is not None:
        condition = tf.constant(condition, tf.int32)
    network = network_class(model, condition, SUBPIXEL_BATCH)
    state = network.initial_state()
    state = tf.constant(generator.normal(size=state.shape), tf.float32)
    row_context = network.begin_row(state)
    width = model.image_shape[1]
    features = tf.constant(
        generator.normal(size=(width, SUBPIXEL_BATCH, network.input_conv.bias.shape[-1])),
        tf.float32,
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
    assert np.std(expected) > 0.1
    np.testing.assert_allclose(actual, expected, atol=1e-5, rtol=1e-5)
