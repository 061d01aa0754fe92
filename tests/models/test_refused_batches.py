"""A batch the model cannot take is refused before it changes anything.

After a valid `fit`, a batch of another image shape, a batch without the
channel axis, pixel values out of range or a condition the model cannot have
is refused by name, and every weight and optimizer slot (the step count
included) is bit for bit what it was.
"""

import re

import keras
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from pixel_keras import training
from pixel_keras.models import PixelCNNPlusPlus
from tests import helpers

FAMILIES = {
    "pixel_cnn_pp": lambda **kw: helpers.tiny_pixel_cnn_pp(dropout=0.0, **kw),
    "pixel_cnn": helpers.tiny_pixel_cnn,
    "row_lstm": lambda **kw: helpers.tiny_pixel_rnn("row_lstm", **kw),
    "diagonal_bilstm": lambda **kw: helpers.tiny_pixel_rnn("diagonal_bilstm", **kw),
}
SHAPE = re.compile(r"Expected `images` of shape \(batch, 8, 8, 1\)")


def state(model):
    """Every weight and optimizer variable, as NumPy."""
    return [v.numpy() for v in model.weights] + [v.numpy() for v in model.optimizer.variables]


def assert_unchanged(model, before):
    after = state(model)
    assert len(after) == len(before)
    changed = [i for i, (a, b) in enumerate(zip(after, before)) if not np.array_equal(a, b)]
    assert not changed, f"{len(changed)} variables changed by a refused batch"


def trained(family, **overrides):
    helpers.set_random_seed(0)
    model = FAMILIES[family](**overrides)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    model.fit(helpers.digits(limit=16), batch_size=8, epochs=1, verbose=0)
    return model


@pytest.fixture(scope="module", params=sorted(FAMILIES))
def fitted(request):
    return trained(request.param)


BAD_SHAPES = {
    "8x8x3": (8, 8, 8, 3),
    "16x16x1": (8, 16, 16, 1),
    "rank_3": (8, 8, 8),
}


@pytest.mark.parametrize("bad", sorted(BAD_SHAPES))
def test_a_batch_of_another_shape_changes_no_weight_nor_slot(fitted, bad):
    before = state(fitted)
    images = np.zeros(BAD_SHAPES[bad], np.float32)
    # The first refused shape is caught when the step is traced (ValueError);
    # a step Keras traced again with the dimension relaxed to None asserts at
    # run time (InvalidArgumentError), with the same message.
    with pytest.raises((ValueError, tf.errors.InvalidArgumentError)) as info:
        fitted.fit(images, batch_size=8, epochs=1, verbose=0)
    assert SHAPE.search(str(info.value)), str(info.value)[-600:]
    assert_unchanged(fitted, before)
    with pytest.raises((ValueError, tf.errors.InvalidArgumentError), match=SHAPE):
        fitted.evaluate(images, batch_size=8, verbose=0)
    with pytest.raises((ValueError, tf.errors.InvalidArgumentError), match=SHAPE):
        fitted.predict(images, batch_size=8, verbose=0)
    assert_unchanged(fitted, before)


def test_a_valid_batch_still_trains_after_refused_ones(fitted):
    before = state(fitted)
    fitted.fit(helpers.digits(limit=8), batch_size=8, epochs=1, verbose=0)
    after = state(fitted)
    assert any(not np.array_equal(a, b) for a, b in zip(after, before))


def test_images_without_the_channel_axis_are_refused_with_a_hint():
    model = helpers.tiny_pixel_cnn()
    with pytest.raises(ValueError, match=r"add the channel axis"):
        model.log_prob(np.zeros((2, 8, 8), np.int32))


# --- Conditions --------------------------------------------------------------


@pytest.fixture(scope="module")
def labelled():
    helpers.set_random_seed(0)
    model = helpers.tiny_pixel_cnn_pp(num_classes=10, dropout=0.0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    images, labels = helpers.digits(limit=16, labels=True)
    model.fit({"images": images, "condition": labels}, batch_size=8, epochs=1, verbose=0)
    return model


BAD_LABELS = {
    "ten": ([10, 1], r"a label 10"),
    "negative": ([-1, 1], r"a label -1"),
    "huge": ([10**6, 1], r"a label 1000000"),
    "int64_wrapping": (np.array([2**32 + 3, 1], np.int64), r"a label 4294967299"),
    "fraction": ([2.5, 1], r"dtype float"),
    "three_for_two": ([1, 2, 3], r"shape \(2,\).*shape \(3,\)"),
}


@pytest.mark.parametrize("case", sorted(BAD_LABELS))
@pytest.mark.parametrize("entry", ["log_prob", "bits_per_dim", "distribution"])
def test_scoring_refuses_labels_the_model_cannot_have(labelled, case, entry):
    labels, message = BAD_LABELS[case]
    images = helpers.digits(limit=2)
    with pytest.raises(ValueError, match=r"Expected `condition`: int class labels") as info:
        getattr(labelled, entry)(images, labels)
    assert re.search(message, str(info.value)), str(info.value)


@pytest.mark.parametrize("case", ["ten", "negative", "huge", "three_for_two"])
def test_fit_refuses_labels_the_model_cannot_have_and_changes_nothing(labelled, case):
    labels = np.array(BAD_LABELS[case][0] * 4)
    images = helpers.digits(limit=len(labels) if case != "three_for_two" else 8)
    before = state(labelled)
    dataset = tf.data.Dataset.from_tensors(
        {"images": images, "condition": labels.astype(np.int32)}
    )
    with pytest.raises((ValueError, tf.errors.InvalidArgumentError)) as info:
        labelled.fit(dataset, epochs=1, verbose=0)
    assert re.search(r"`condition`", str(info.value)), str(info.value)[-600:]
    assert_unchanged(labelled, before)


def test_fit_refuses_fractional_labels_when_traced(labelled):
    images = helpers.digits(limit=8)
    before = state(labelled)
    with pytest.raises(ValueError, match=r"Expected `condition`.*dtype float"):
        labelled.fit(
            {"images": images, "condition": np.full(8, 2.5, np.float32)},
            batch_size=8,
            epochs=1,
            verbose=0,
        )
    assert_unchanged(labelled, before)


def test_a_conditional_model_refuses_images_without_their_condition(labelled):
    with pytest.raises(ValueError, match=r"This model is conditional"):
        labelled.fit(helpers.digits(limit=8), batch_size=8, epochs=1, verbose=0)


def test_values_with_nan_are_refused_everywhere():
    helpers.set_random_seed(0)
    model = helpers.tiny_pixel_cnn(conditional_shape=(3,))
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    images = helpers.digits(limit=8)
    values = np.zeros((8, 3), np.float32)
    model.fit({"images": images, "condition": values}, batch_size=8, epochs=1, verbose=0)
    values[2, 1] = np.nan
    with pytest.raises(ValueError, match=r"finite"):
        model.log_prob(images, values)
    before = state(model)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"`condition` values must be finite"):
        model.fit({"images": images, "condition": values}, batch_size=8, epochs=1, verbose=0)
    assert_unchanged(model, before)


def test_exact_evaluation_refuses_out_of_range_labels(labelled):
    images, _ = helpers.digits(limit=4, labels=True)
    examples = tf.data.Dataset.from_tensor_slices(
        {"images": images, "labels": np.array([1, 2, 10, 3], np.int32)}
    )
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"labels must be in \[0, 10\)"):
        training.evaluate(labelled, examples)


# --- Constructor arguments ----------------------------------------------------


def test_a_misspelled_constructor_argument_is_named_with_the_closest_one():
    with pytest.raises(TypeError, match=r"`num_filterz` \(did you mean `num_filters`\?\)"):
        PixelCNNPlusPlus.from_preset("tiny", num_filterz=3)
    with pytest.raises(TypeError, match=r"`num_layer` \(did you mean `num_layers`\?\)"):
        helpers.tiny_pixel_cnn(num_layer=2)
    with pytest.raises(TypeError, match=r"PixelRNN got unexpected keyword argument"):
        helpers.tiny_pixel_rnn("row_lstm", colour=True)


def test_the_base_arguments_still_pass():
    model = helpers.tiny_pixel_cnn(name="named", trainable=False, dtype="float32")
    assert model.name == "named" and not model.trainable


# --- Random malformed batches -------------------------------------------------


@pytest.fixture(scope="module")
def property_model():
    return trained("pixel_cnn")


def malformed_batches():
    """A batch: its image shape, dtype and value kind (most are bad)."""
    return st.tuples(
        st.sampled_from([(8, 8, 1), (8, 8, 3), (16, 16, 1), (8, 8), (4, 8, 1)]),
        st.sampled_from(["float32", "int32", "uint8", "float64"]),
        st.sampled_from(["valid", "negative", "above", "fraction", "nan", "scaled"]),
    )


def make_batch(shape, dtype, values):
    generator = np.random.default_rng(0)
    images = generator.integers(0, 17, (4, *shape)).astype(np.float64)
    if values == "negative":
        images.flat[3] = -1
    elif values == "above":
        images.flat[5] = 17 if dtype != "uint8" else 200
    elif values == "fraction" and dtype.startswith("float"):
        images.flat[1] = 2.5
    elif values == "nan" and dtype.startswith("float"):
        images.flat[2] = np.nan
    elif values == "scaled" and dtype.startswith("float"):
        images = images / 16.0
    return images.astype(dtype)


def is_valid(images):
    return (
        images.shape[1:] == (8, 8, 1)
        and np.all(np.isfinite(images))
        and np.all(images == np.round(images))
        and images.min() >= 0
        and images.max() <= 16
    )


@settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batch=malformed_batches())
def test_random_malformed_batches_train_or_are_refused_by_name(property_model, batch):
    images = make_batch(*batch)
    before = state(property_model)
    if is_valid(images):
        property_model.fit(images, batch_size=4, epochs=1, verbose=0)
        return
    with pytest.raises((ValueError, tf.errors.InvalidArgumentError)) as info:
        property_model.fit(images, batch_size=4, epochs=1, verbose=0)
    assert re.search(r"Expected `images`", str(info.value)), str(info.value)[-600:]
    assert_unchanged(property_model, before)


@pytest.mark.parametrize("labels", [[10], [-1], [[3, 10]]])
def test_as_distribution_refuses_labels_out_of_range(labelled, labels):
    with pytest.raises(ValueError, match=r"Expected `condition`.*Received: a label"):
        labelled.as_distribution(condition=labels)
    # A valid condition still draws.
    assert labelled.as_distribution(condition=[3]).sample(seed=[1, 2]).shape == (1, 8, 8, 1)
