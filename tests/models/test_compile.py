"""`compile` creates the optimizer's variables, so the first `fit` traces its
step once, and a `.keras` file loads compiled, with its optimizer state."""

import warnings

import keras
import numpy as np
import tensorflow as tf

from pixel_keras.models import PixelCNN


def _model():
    return PixelCNN.from_preset(
        "tiny", num_layers=1, num_filters=4, output_filters=4, image_shape=(4, 4, 1)
    )


def _images(model, count=8):
    rng = np.random.default_rng(0)
    return rng.integers(0, model.num_levels, (count, *model.image_shape)).astype("float32")


def test_compile_builds_the_optimizer_and_the_first_fit_traces_once():
    model = _model()
    model.compile(optimizer=keras.optimizers.Adam(1e-3, use_ema=True))
    assert model.optimizer.built
    # Adam's two moments and the EMA for every trainable weight.
    assert len(model.optimizer.variables) >= 3 * len(model.trainable_variables)
    traces = []
    compute_loss = model.compute_loss

    def counting(*args, **kwargs):
        traces.append(None)
        return compute_loss(*args, **kwargs)

    model.compute_loss = counting
    model.fit(_images(model), batch_size=4, epochs=1, verbose=0)
    # Variables created inside the first trace would make `tf.function`
    # trace the step a second time.
    assert len(traces) == 1


def test_keras_file_loads_compiled_with_the_optimizer_state(tmp_path):
    model = _model()
    model.compile(optimizer="adam")
    model.fit(_images(model), batch_size=4, epochs=1, verbose=0)
    path = str(tmp_path / "model.keras")
    model.save(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded = keras.saving.load_model(path)
    assert loaded.compiled and loaded.optimizer.built
    assert int(loaded.optimizer.iterations.numpy()) == 2
    for mine, theirs in zip(loaded.optimizer.variables, model.optimizer.variables):
        np.testing.assert_array_equal(mine.numpy(), theirs.numpy())


def test_compile_under_a_strategy_mirrors_the_optimizer_variables():
    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    with strategy.scope():
        model = _model()
        model.compile(optimizer="adam")
    assert model.optimizer.built
    # Made in the strategy's scope, as `fit` would: mirrored, not plain.
    assert all(
        isinstance(v.value, tf.distribute.DistributedValues)
        for v in model.optimizer.variables
    )


def test_compile_with_no_optimizer_takes_the_familys_recipe():
    from pixel_keras import recipes
    from tests import helpers

    for family, model in [
        ("pixel_cnn_pp", helpers.tiny_pixel_cnn_pp()),
        ("pixel_cnn", helpers.tiny_pixel_cnn()),
        ("diagonal_bilstm", helpers.tiny_pixel_rnn("diagonal_bilstm")),
    ]:
        recipe = recipes.get(f"{family}/digits")
        model.compile()
        optimizer = model.optimizer
        assert optimizer.use_ema == (recipe["ema_momentum"] is not None), family
        if recipe["ema_momentum"] is not None:
            assert optimizer.ema_momentum == recipe["ema_momentum"]
        schedule = optimizer._learning_rate
        assert schedule.initial_learning_rate == recipe["learning_rate"], family
        assert schedule.decay_rate == recipe["lr_decay"], family
        assert type(optimizer).__name__.lower().endswith(recipe["optimizer"]), family


def test_fit_after_a_bare_compile_leaves_the_ema_weights_in_the_model():
    from tests import helpers

    helpers.set_random_seed(0)
    model = helpers.tiny_pixel_cnn_pp(dropout=0.0)
    model.compile()
    history = model.fit(helpers.digits(limit=32), batch_size=8, epochs=2, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    averages = helpers.optimizer_averages(model)
    for weight, average in zip(model.trainable_variables, averages):
        np.testing.assert_array_equal(weight.numpy(), average)
