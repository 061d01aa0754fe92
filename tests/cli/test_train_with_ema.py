"""Training runs of the recipes: EMA weights and weight normalization
through checkpoints, evaluation and resuming; the digits recipes."""

import numpy as np
import pytest

from pixel_keras import data
from pixel_keras import training
from pixel_keras.cli import commands
from tests import helpers


@pytest.fixture(scope="module")
def ema_run(tmp_path_factory):
    """The pixel_cnn_pp/digits recipe, 1 epoch of 6 steps, with EMA and
    weight normalization; returns (workdir, metrics, init calls)."""
    workdir = tmp_path_factory.mktemp("ema_run")
    calls = []
    original = training.initialize_weight_norm

    def spy(model, *args, **kwargs):
        calls.append(model)
        return original(model, *args, **kwargs)

    training.initialize_weight_norm = spy
    try:
        metrics = commands.train(
            helpers.run_config(
                workdir,
                recipe="pixel_cnn_pp/digits",
                epochs=1,
                batch_size=256,
                num_filters=8,
                num_hierarchies=1,
                num_logistic_mix=2,
                ema_momentum=0.9,
                weight_norm=True,
            )
        )
    finally:
        training.initialize_weight_norm = original
    return workdir, metrics, calls


def test_run_initializes_weight_norm_once_and_records_its_settings(ema_run):
    _, metrics, calls = ema_run
    assert len(calls) == 1
    assert metrics["recipe"] == "pixel_cnn_pp/digits"
    assert metrics["ema_momentum"] == 0.9 and metrics["weight_norm"] is True
    assert metrics["batch_size"] == 256 and metrics["epochs"] == 1
    assert metrics["train_bits_per_dim"] < np.log2(17)


def test_restored_ema_checkpoint_evaluates_with_the_ema_weights(ema_run):
    workdir, metrics, _ = ema_run
    path = training.latest_checkpoint(str(workdir))[1]
    raw = training.load_checkpoint(path, ema_weights=False)
    restored = commands.restore(helpers.run_config(workdir))
    # The checkpoint holds the raw weights and, in the optimizer, the EMA.
    helpers.assert_all_equal(helpers.trainable_values(restored), helpers.optimizer_averages(raw))
    assert helpers.any_differ(helpers.trainable_values(raw), helpers.optimizer_averages(raw))
    evaluation = commands.evaluate(helpers.run_config(workdir, recipe="pixel_cnn_pp/digits"))
    # The same as right after training, where fit left the EMA weights.
    np.testing.assert_allclose(
        evaluation["test_bits_per_dim"], metrics["test_bits_per_dim"], rtol=1e-5
    )
    images, _ = data.images_and_labels(data.load("digits").test, limit=32)
    ema_bits = restored.bits_per_dim(images).numpy()
    raw_bits = raw.bits_per_dim(images).numpy()
    assert not np.allclose(ema_bits, raw_bits)


def test_resume_trains_on_from_the_raw_weights_and_the_ema_state(ema_run, monkeypatch):
    workdir, _, calls = ema_run
    path = training.latest_checkpoint(str(workdir))[1]
    saved = training.load_checkpoint(path, ema_weights=False)
    seen = {}
    original = training.train

    def spy(model, *args, **kwargs):
        seen["weights"] = helpers.trainable_values(model)
        seen["averages"] = helpers.optimizer_averages(model)
        seen["steps"] = int(model.optimizer.iterations.numpy())
        return original(model, *args, **kwargs)

    monkeypatch.setattr(training, "train", spy)
    commands.train(
        helpers.run_config(
            workdir, recipe="pixel_cnn_pp/digits", resume=True, epochs=2, batch_size=256
        )
    )
    helpers.assert_all_equal(seen["weights"], helpers.trainable_values(saved))
    helpers.assert_all_equal(seen["averages"], helpers.optimizer_averages(saved))
    assert seen["steps"] == 6
    assert len(calls) == 1  # no second weight-norm initialization
    resumed = training.load_checkpoint(
        training.latest_checkpoint(str(workdir))[1], ema_weights=False
    )
    assert int(resumed.optimizer.iterations.numpy()) == 12
    assert resumed.optimizer.ema_momentum == 0.9


@pytest.mark.parametrize(
    "model", ["pixel_cnn", pytest.param("row_lstm", marks=pytest.mark.slow)]
)
def test_digits_recipes_train_and_evaluate(tmp_path, model):
    # One model of each family: PixelCNN++'s digits recipe runs in the EMA
    # tests above (with `eval`), and the Diagonal BiLSTM's differs from the
    # Row LSTM's only in the model's `kind`.
    metrics = commands.train(
        helpers.run_config(tmp_path, recipe=f"{model}/digits", epochs=2, batch_size=512)
    )
    assert metrics["recipe"] == f"{model}/digits" and metrics["preset"] == "tiny"
    assert metrics["train_bits_per_dim"] < np.log2(17)
    assert metrics["test_bits_per_dim"] < np.log2(17)
    assert metrics["optimizer"] == "adam" and metrics["ema_momentum"] is None
