"""The cached samplers of the PixelCNN, Row LSTM and Diagonal BiLSTM: the
same network at every sub-pixel, the same draws as the naive sampler."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from pixel_keras import sampling
from pixel_keras.models.pixel_cnn import cached_sampler as pixel_cnn
from pixel_keras.models.pixel_rnn import diagonal_bilstm_sampler as diagonal_bilstm
from pixel_keras.models.pixel_rnn import row_lstm_sampler as row_lstm
from pixel_keras.models import PixelCNN
from pixel_keras.models import PixelRNN

SAMPLERS = {
    "pixel_cnn": pixel_cnn,
    "row_lstm": row_lstm,
    "diagonal_bilstm": diagonal_bilstm,
}

# (image_shape, num_levels, num_filters, num_classes): colour and grey,
# categorical and Bernoulli, with and without labels; heights and widths
# differ so that rows and columns cannot be swapped unnoticed.
CONFIGS = {
    "rgb": ((5, 6, 3), 4, 4, None),
    "grey_classes": ((6, 5, 1), 17, 3, 3),
    "rgb_bernoulli_classes": ((4, 5, 3), 2, 5, 2),
}

BATCH = 3


def _build(kind, **arguments):
    """A model with 2 layers, its weights moved off their initial values
    (zero biases, forget gates at 1) so that every weight changes the
    logits noticeably."""
    keras.utils.set_random_seed(0)
    arguments = dict(num_layers=2, output_filters=6, **arguments)
    if kind == "pixel_cnn":
        model = PixelCNN(**arguments)
    else:
        model = PixelRNN(kind=kind, **arguments)
    generator = np.random.default_rng(0)
    for weight in model.weights:
        noise = generator.normal(0.0, 0.3, weight.shape).astype("float32")
        weight.assign(weight + noise)
    return model


def _model(kind, config):
    image_shape, num_levels, num_filters, num_classes = CONFIGS[config]
    return _build(
        kind,
        image_shape=image_shape,
        num_levels=num_levels,
        num_filters=num_filters,
        num_classes=num_classes,
    )


@pytest.fixture(
    scope="module",
    params=[(kind, config) for kind in SAMPLERS for config in CONFIGS],
    ids=lambda param: "-".join(param),
)
def model(request):
    return _model(*request.param)


def _sampler(model):
    return SAMPLERS[model.kind if isinstance(model, PixelRNN) else "pixel_cnn"]


def _labels(model, num):
    if model.num_classes is None:
        return None
    return np.arange(num) % model.num_classes


def _network_logits(model, images, labels):
    outputs = model(model.make_inputs(images, labels), training=False)
    return model.channel_logits(outputs).numpy()


def test_cached_logits_equal_the_network_on_any_image(model):
    # Random images exercise every cache (rows above, pixels to the left,
    # centre taps, the backward scan) against the full network at every
    # sub-pixel.
    generator = np.random.default_rng(1)
    images = generator.integers(0, model.num_levels, (BATCH, *model.image_shape))
    labels = _labels(model, BATCH)
    expected = _network_logits(model, images, labels)
    actual = _sampler(model).cached_logits(model, images, labels)
    assert actual.shape == expected.shape
    # Not a trivial match: the logits vary between sub-pixels.
    assert np.std(expected) > 0.1
    np.testing.assert_allclose(actual, expected, atol=1e-5, rtol=1e-5)


def test_cached_and_naive_samples_are_identical(model):
    seeds = sampling.per_image_seeds(5, BATCH)
    temperature = np.array([1.0, 0.5, 2.0], np.float32)
    kwargs = {"labels": _labels(model, BATCH), "temperature": temperature}
    naive = model.sample(BATCH, seed=seeds, method="naive", **kwargs).numpy()
    fast = model.sample(BATCH, seed=seeds, method="cached", **kwargs).numpy()
    np.testing.assert_array_equal(fast, naive)
    assert len(np.unique(fast)) > 1
    # Teacher forcing: the cached loop, given its own samples, recomputes
    # the logits it drew them from; they are the network's at those images.
    np.testing.assert_allclose(
        _sampler(model).cached_logits(model, fast, kwargs["labels"]),
        _network_logits(model, fast, kwargs["labels"]),
        atol=1e-5,
        rtol=1e-5,
    )


def test_cached_and_naive_completions_are_identical(model):
    generator = np.random.default_rng(2)
    images = generator.integers(0, model.num_levels, (BATCH, *model.image_shape))
    known = generator.random((BATCH, *model.image_shape[:2])) < 0.5
    known[0] = True  # one image entirely known
    kwargs = {"labels": _labels(model, BATCH), "seed": 9, "known_mask": known}
    naive = model.complete(images, method="naive", **kwargs).numpy()
    fast = model.complete(images, method="cached", **kwargs).numpy()
    np.testing.assert_array_equal(fast, naive)
    np.testing.assert_array_equal(fast[known], images[known])
    assert not np.array_equal(fast[~known], images[~known])


@pytest.mark.parametrize("kind", sorted(SAMPLERS))
def test_cached_loop_traces_with_one_image_and_with_an_unknown_batch(kind):
    # A fresh model, so that the first trace has a batch of 1 (a static
    # dimension that broadcasting does not keep), and then, as in an
    # exported serving function, a batch that is None at trace time.
    model = _model(kind, "grey_classes")
    shape = model.image_shape
    seeds = sampling.per_image_seeds(3, 2)
    labels = np.array([2, 0], np.int32)
    temperature = np.array([1.0, 0.8], np.float32)
    alone = model.sample(
        1, seed=seeds[:1], labels=labels[:1], temperature=temperature[:1]
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
    def draw(images, known, seeds, labels, temperature):
        return sampling.draw(
            model, images, known, seeds, labels, temperature, method="cached"
        )

    images = tf.zeros([2, *shape])
    known = tf.zeros([2, *shape[:2]], tf.bool)
    images = draw(images, known, seeds, labels, temperature).numpy()
    expected = model.sample(
        2, seed=seeds, labels=labels, temperature=temperature, method="naive"
    )
    np.testing.assert_array_equal(images, expected)
    np.testing.assert_array_equal(alone, images[:1])


@pytest.mark.parametrize("kind", sorted(SAMPLERS))
def test_cached_sampler_reads_embedded_pixels_and_condition_values(kind):
    # A learned table per channel feeds `input_conv` several features per
    # channel, and a conditioning map (not labels) feeds every layer.
    model = _build(
        kind,
        image_shape=(4, 5, 3),
        num_levels=5,
        num_filters=4,
        conditional_shape=(2, 3),
        input_encoding="embedding",
        embedding_dim=3,
    )
    generator = np.random.default_rng(1)
    images = generator.integers(0, 5, (BATCH, *model.image_shape))
    condition = generator.normal(size=(BATCH, 2, 3)).astype("float32")
    np.testing.assert_allclose(
        SAMPLERS[kind].cached_logits(model, images, condition),
        _network_logits(model, images, condition),
        atol=1e-5,
        rtol=1e-5,
    )
    seeds = sampling.per_image_seeds(4, BATCH)
    naive = model.sample(BATCH, seed=seeds, condition=condition, method="naive")
    fast = model.sample(BATCH, seed=seeds, condition=condition, method="cached")
    np.testing.assert_array_equal(fast.numpy(), naive.numpy())
