"""A wrong input never yields a number: every public entry point refuses
pixel values the model cannot have (pixel_keras.pixel_values).

Each kind of bad value (above the top level, negative, non-integer, images
scaled to [0, 1], NaN, inf, strings) goes through every entry point: the
model's `log_prob`, `bits_per_dim`, `distribution` and `complete`,
`as_distribution().log_prob` (with and without `validate_args`), the
per-pixel mixture under `validate_args`, `fit` and `evaluate` (the
check runs inside the traced step), the exact `training.evaluate`, and the
command line's data loading. A bad batch in the middle of a run stops it
with the message and leaves its last checkpoint and backup intact.
"""

import os
import re

import keras
import numpy as np
import pytest
import tensorflow as tf

from pixel_keras import data
from pixel_keras import training
from pixel_keras.cli import commands
from pixel_keras.distributions import DiscretizedLogisticMixture
from pixel_keras.models import PixelCNN
from pixel_keras.pixel_values import check_pixel_values
from pixel_keras.pixel_values import pixel_value_assertions
from tests import helpers

SHAPE = (2, 8, 8, 1)
TOP = 16  # the tiny presets' 17 levels


def _bad_values():
    """kind -> (values, a regex the message must match)."""
    rng = np.random.default_rng(0)
    one_nan = np.zeros(SHAPE, np.float32)
    one_nan[1, 2, 3, 0] = np.nan
    one_inf = np.full(SHAPE, 3.0, np.float32)
    one_inf[0, 0, 1, 0] = np.inf
    above = np.full(SHAPE, 5, np.uint8)
    above[1, 7, 7, 0] = TOP + 1
    return {
        "above_range": (
            above,
            r"dtype uint8 with min 5 and max 17; the first offending value is 17 "
            r"at index \(1, 7, 7, 0\)",
        ),
        "negative": (-np.ones(SHAPE, np.int32), r"dtype int32 with min -1 and max -1"),
        "non_integer": (np.full(SHAPE, 2.5, np.float32), r"first offending value is 2.5"),
        "scaled_to_unit": (
            rng.random(SHAPE).astype(np.float32),
            r"looks like images scaled to \[0, 1\]: pass integer values 0\.\.16",
        ),
        "nan": (one_nan, r"first offending value is nan at index \(1, 2, 3, 0\)"),
        "inf": (one_inf, r"first offending value is inf at index \(0, 0, 1, 0\)"),
        "strings": (np.full(SHAPE, "7"), r"dtype (<U1|string)"),
    }


BAD = _bad_values()
EXPECTED = r"Expected `images` to be integers in \[0, 16\] \(num_levels=17\)"


def _assert_message(message, pattern):
    assert re.search(EXPECTED.replace("`images`", r"`\w+`"), message), message
    assert re.search(pattern, message), message


@pytest.fixture(scope="module")
def model():
    helpers.set_random_seed(5)
    return helpers.tiny_pixel_cnn_pp()


@pytest.fixture(scope="module")
def categorical_model():
    helpers.set_random_seed(6)
    return PixelCNN.from_preset("tiny", num_layers=1, num_filters=4, output_filters=8)


# --- The check itself ------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(BAD))
def test_eager_check_names_the_argument_received_and_expected(kind):
    values, pattern = BAD[kind]
    with pytest.raises(ValueError) as info:
        check_pixel_values(values, 17, "images")
    _assert_message(str(info.value), pattern)


@pytest.mark.parametrize("kind", sorted(set(BAD) - {"strings"}))
def test_graph_check_fails_the_traced_step_with_the_same_facts(kind):
    values, _ = BAD[kind]
    step = tf.function(lambda x: tf.reduce_sum(check_pixel_values(x, 17, "images")))
    with pytest.raises(tf.errors.InvalidArgumentError) as info:
        step(tf.constant(values))
    message = str(info.value)
    assert re.search(EXPECTED, message), message
    assert "first offending value is" in message and "at index" in message, message
    if kind == "scaled_to_unit":
        assert "looks like images scaled to [0, 1]" in message
    else:
        assert "looks like images scaled" not in message


def test_good_values_pass_every_dtype():
    for values in (
        np.zeros(SHAPE, np.uint8) + TOP,
        np.arange(17, dtype=np.int64),
        np.arange(17, dtype=np.float32),
        [[0, 16], [3, 4]],
    ):
        np.testing.assert_array_equal(check_pixel_values(values, 17), values)
    step = tf.function(lambda x: check_pixel_values(x, 17) + 0)
    np.testing.assert_array_equal(step(tf.constant([0.0, 16.0])), [0.0, 16.0])


def test_a_dtype_that_cannot_leave_the_range_needs_no_graph_assertion():
    graph = tf.function(lambda x: pixel_value_assertions(x, 256)).get_concrete_function(
        tf.TensorSpec([None, 4], tf.uint8)
    ).graph
    assert not [op for op in graph.get_operations() if op.type in ("If", "StatelessIf")]


def test_binary_values_in_unit_range_get_no_scaled_hint():
    with pytest.raises(ValueError) as info:
        check_pixel_values(np.array([0.0, 0.5, 1.0]), 2)
    assert "looks like images scaled" not in str(info.value)
    assert "integers in [0, 1]" in str(info.value)


# --- Every entry point -------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(BAD))
def test_model_likelihood_entry_points_refuse(model, kind):
    values, pattern = BAD[kind]
    for call in (
        lambda: model.log_prob(values),
        lambda: model.bits_per_dim(values),
        lambda: model.distribution(values),
        lambda: model.complete(values, np.zeros(SHAPE[:3], bool), seed=1),
    ):
        with pytest.raises(ValueError) as info:
            call()
        _assert_message(str(info.value), pattern)


@pytest.mark.parametrize("kind", sorted(set(BAD) - {"strings"}))
def test_categorical_model_refuses_too(categorical_model, kind):
    values, pattern = BAD[kind]
    with pytest.raises(ValueError) as info:
        categorical_model.log_prob(values)
    _assert_message(str(info.value), pattern)


@pytest.mark.parametrize("kind", sorted(set(BAD) - {"strings"}))
def test_as_distribution_refuses_with_and_without_validate_args(model, kind):
    values, pattern = BAD[kind]
    # Without validate_args, the distribution hands the model float32 values.
    pattern = re.sub(r"dtype \w+ ", r"dtype \\w+ ", pattern)
    # TFP would convert a NumPy value to int32 first (1.5 -> 1, NaN ->
    # -2**31); the values are checked as given.
    with pytest.raises(ValueError) as info:
        model.as_distribution().log_prob(values)
    _assert_message(str(info.value), pattern)
    with pytest.raises(tf.errors.InvalidArgumentError) as info:
        model.as_distribution(validate_args=True).log_prob(values)
    _assert_message(str(info.value), pattern)


@pytest.mark.parametrize("kind", ["above_range", "non_integer", "scaled_to_unit", "nan"])
def test_the_per_pixel_mixture_refuses_under_validate_args(kind):
    values, _ = BAD[kind]
    pixels = tf.constant(values.reshape(-1, 1), tf.float32)  # one channel each
    mixture = DiscretizedLogisticMixture(
        logits=tf.zeros([3]),
        locs=tf.zeros([3, 1]),
        log_scales=tf.zeros([3, 1]),
        num_levels=17,
        validate_args=True,
    )
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"`value` to be integers"):
        mixture.log_prob(pixels)


def test_fit_and_evaluate_refuse_images_scaled_to_unit_at_the_first_step(model):
    digits = data.load("digits")
    images, _ = data.images_and_labels(digits.test, limit=32)
    scaled = images.astype(np.float32) / TOP
    model.compile(optimizer=training.make_optimizer())
    before = [weight.numpy() for weight in model.trainable_weights]
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"scaled to \[0, 1\]") as info:
        model.fit(tf.data.Dataset.from_tensor_slices(scaled).batch(16), epochs=1, verbose=0)
    assert re.search(EXPECTED, str(info.value))
    # The bad step did not update a weight.
    for weight, value in zip(model.trainable_weights, before):
        np.testing.assert_array_equal(weight.numpy(), value)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"scaled to \[0, 1\]"):
        model.evaluate(scaled, batch_size=16, verbose=0)
    # The integer images themselves train.
    model.fit(images.astype(np.float32), batch_size=16, epochs=1, verbose=0)


@pytest.mark.slow  # XLA's compile on CPU: about 15 s
def test_under_xla_a_bad_batch_gives_a_nan_loss_that_stops_fit_and_changes_no_weight():
    # XLA has no Assert: the compiled step skips the update and makes the
    # loss NaN, and TerminateOnNaN(raise_error=True) (which `training.train`
    # adds) ends the run.
    helpers.set_random_seed(7)
    model = helpers.tiny_pixel_cnn_pp(image_shape=(4, 4, 1))
    model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=True)
    good = np.random.default_rng(0).integers(0, TOP + 1, (8, 4, 4, 1)).astype(np.float32)
    bad = good.copy()
    bad[0, 0, 0, 0] = 0.5
    history = model.fit(good, batch_size=8, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    before = [v.numpy() for v in model.weights + model.optimizer.variables]
    with pytest.raises(RuntimeError, match="NaN"):
        model.fit(
            bad,
            batch_size=8,
            epochs=1,
            verbose=0,
            callbacks=[keras.callbacks.TerminateOnNaN(raise_error=True)],
        )
    assert all(np.all(np.isfinite(weight.numpy())) for weight in model.weights)
    # The refused step skipped the optimizer's update: no weight, no slot and
    # not the step count moved (momentum would move the weights otherwise).
    after = [v.numpy() for v in model.weights + model.optimizer.variables]
    assert all(np.array_equal(a, b) for a, b in zip(after, before))


def test_exact_evaluation_refuses_a_bad_dataset(model):
    bad = tf.data.Dataset.from_tensor_slices({"images": BAD["above_range"][0]})
    with pytest.raises(tf.errors.InvalidArgumentError, match=EXPECTED):
        training.evaluate(model, bad)


def test_command_line_data_refuses_floats(tmp_path):
    path = tmp_path / "scaled.npz"
    np.savez(path, images=np.random.default_rng(1).random((20, 8, 8, 1)).astype(np.float32))
    with pytest.raises(ValueError, match=r"dtype float32, expected uint8"):
        commands.train(helpers.tiny_run_config(tmp_path / "run", dataset=str(path)))


# --- A bad batch in the middle of a run ---------------------------------------------


def _dataset_going_bad_after(num_good, num_train=32):
    """An `ImageDataset` whose training stream turns bad after `num_good`
    examples (counted across epochs): the run fails mid-way."""
    digits = data.load("digits")
    images, _ = data.images_and_labels(digits.train, limit=num_train)
    count = [0]

    def generate():
        for image in images:
            count[0] += 1
            yield image if count[0] <= num_good else np.full_like(image, TOP + 1)

    train = tf.data.Dataset.from_generator(
        generate, output_signature=tf.TensorSpec(images.shape[1:], tf.uint8)
    ).map(lambda image: {"images": image})
    return data.ImageDataset(
        name="going bad",
        train=train,
        test=tf.data.Dataset.from_tensor_slices({"images": images[:16]}),
        image_shape=digits.image_shape,
        num_levels=digits.num_levels,
        num_classes=None,
        num_train_examples=num_train,
        num_test_examples=16,
    )


def _files(folder):
    found = {}
    for directory, _, names in os.walk(folder):
        for name in names:
            path = os.path.join(directory, name)
            with open(path, "rb") as f:
                found[os.path.relpath(path, folder)] = f.read()
    return found


@pytest.mark.slow
# Keras reports the failed epoch's data as cut short; that is the point.
@pytest.mark.filterwarnings("ignore:Your input ran out of data")
def test_a_bad_batch_mid_run_stops_it_and_keeps_the_checkpoint_and_backup(tmp_path):
    helpers.set_random_seed(7)
    model = helpers.tiny_pixel_cnn_pp()
    model.compile(optimizer=training.make_optimizer())
    workdir = str(tmp_path)
    # Epochs 1 and 2 (32 examples each) are good; epoch 3 turns bad (the
    # shuffling spreads its bad examples over all its batches).
    dataset = _dataset_going_bad_after(64)
    with pytest.raises(tf.errors.InvalidArgumentError, match=EXPECTED):
        training.train(
            model, dataset, workdir, epochs=4, batch_size=8, verbose=0, backup_steps=1
        )
    epoch, path = training.latest_checkpoint(workdir)
    assert epoch == 2
    files = _files(workdir)
    assert any(name.startswith(training.BACKUP_DIR) for name in files), sorted(files)
    assert not any(os.path.basename(name).startswith(".tmp") for name in files)
    # The checkpoint loads; the backup continues the run with good data.
    restored = training.load_checkpoint(path)
    assert np.isfinite(restored.log_prob(np.zeros(SHAPE, np.uint8))).all()
    helpers.set_random_seed(7)
    fresh = helpers.tiny_pixel_cnn_pp()
    fresh.compile(optimizer=training.make_optimizer())
    history = training.train(
        fresh, _dataset_going_bad_after(10**9), workdir, epochs=4, batch_size=8, verbose=0
    )
    # The backup was taken at the last step of epoch 2, which Keras runs
    # again (it restarts an epoch from its first step), then 3 and 4.
    assert history.epoch == [1, 2, 3]
    assert training.latest_checkpoint(workdir)[0] == 4
