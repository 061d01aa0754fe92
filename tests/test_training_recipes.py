"""Training recipes, EMA (Polyak) weights through checkpoints and resuming,
and weight normalization in `main.py train`."""

import os
import subprocess
import sys
import types

import keras
import numpy as np
import pytest

from cli import commands
from cli import registry
from pixel_keras import data
from pixel_keras import recipes
from pixel_keras import training
from tests.conftest import tiny_pixel_cnn_pp

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _config(workdir, **overrides):
    # No recipe flag is set: the recipe gives them unless a test does.
    values = dict(
        workdir=str(workdir),
        recipe=None,
        data_dir=None,
        num_levels=None,
        num_filters=None,
        num_resnet=None,
        num_hierarchies=None,
        num_logistic_mix=None,
        dropout=None,
        num_layers=None,
        output_filters=None,
        class_conditional=False,
        seed=0,
        resume=False,
        checkpoint=None,
        num_samples=2,
        temperature=1.0,
        sampling_method="cached",
        output=None,
        strategy="auto",
        tpu=None,
        num_cpu_devices=None,
        backup_steps=None,
    )
    values.update(overrides)
    return types.SimpleNamespace(**values)


def _averages(model):
    """The optimizer's EMA values, in the order of the model's weights."""
    optimizer = model.optimizer
    return [
        optimizer._model_variables_moving_average[optimizer._get_variable_index(v)].numpy()
        for v in model.trainable_variables
    ]


def _weights(model):
    return [v.numpy() for v in model.trainable_variables]


def _assert_all_equal(actual, expected):
    assert len(actual) == len(expected)
    for a, b in zip(actual, expected):
        np.testing.assert_array_equal(a, b)


def _differ(first, second):
    return any(not np.array_equal(a, b) for a, b in zip(first, second))


# --- EMA -------------------------------------------------------------------------


def test_ema_weights_follow_a_numpy_recurrence_of_the_raw_weights():
    model = tiny_pixel_cnn_pp(num_hierarchies=1)
    momentum = 0.8
    model.compile(optimizer=training.make_optimizer(learning_rate=1e-2, ema_momentum=momentum))
    variables = model.trainable_variables
    model.optimizer.build(variables)
    rng = np.random.default_rng(0)
    raw = []
    for _ in range(4):
        gradients = [rng.normal(size=v.shape).astype("float32") for v in variables]
        model.optimizer.apply(gradients, variables)
        raw.append([w.astype(np.float64) for w in _weights(model)])
    # Keras' EMA copies the weights after the first step, then averages.
    expected = raw[0]
    for step in raw[1:]:
        expected = [momentum * a + (1 - momentum) * w for a, w in zip(expected, step)]
    for average, value in zip(_averages(model), expected):
        np.testing.assert_allclose(average, value, rtol=1e-5, atol=1e-7)
    assert _differ(_averages(model), _weights(model))
    assert training.use_ema_weights(model)
    _assert_all_equal(_weights(model), _averages(model))
    assert not training.make_optimizer().use_ema
    with pytest.raises(ValueError, match="ema_momentum"):
        training.make_optimizer(ema_momentum=1.0)
    with pytest.raises(ValueError, match="sgd"):
        training.make_optimizer(name="sgd")


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
            _config(
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
    restored = commands.restore(_config(workdir))
    # The checkpoint holds the raw weights and, in the optimizer, the EMA.
    _assert_all_equal(_weights(restored), _averages(raw))
    assert _differ(_weights(raw), _averages(raw))
    evaluation = commands.evaluate(_config(workdir, recipe="pixel_cnn_pp/digits"))
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
        seen["weights"], seen["averages"] = _weights(model), _averages(model)
        seen["steps"] = int(model.optimizer.iterations.numpy())
        return original(model, *args, **kwargs)

    monkeypatch.setattr(training, "train", spy)
    commands.train(
        _config(workdir, recipe="pixel_cnn_pp/digits", resume=True, epochs=2, batch_size=256)
    )
    _assert_all_equal(seen["weights"], _weights(saved))
    _assert_all_equal(seen["averages"], _averages(saved))
    assert seen["steps"] == 6
    assert len(calls) == 1  # no second weight-norm initialization
    resumed = training.load_checkpoint(
        training.latest_checkpoint(str(workdir))[1], ema_weights=False
    )
    assert int(resumed.optimizer.iterations.numpy()) == 12
    assert resumed.optimizer.ema_momentum == 0.9


# --- Recipes ---------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(recipes.RECIPES))
def test_every_recipe_builds_its_model_and_optimizer(name):
    recipe = recipes.get(name)
    model_class, fixed, _ = registry.MODELS[recipe["model"]]
    arguments = dict(fixed)
    if "weight_norm" in recipe:
        arguments["weight_norm"] = recipe["weight_norm"]
    model = model_class.from_preset(recipe["preset"], **arguments)
    assert model.count_params() > 0
    assert getattr(model, "weight_norm", False) == recipe.get("weight_norm", False)
    optimizer = training.make_optimizer(
        learning_rate=recipe["learning_rate"],
        decay_rate=recipe["lr_decay"],
        ema_momentum=recipe["ema_momentum"],
        name=recipe["optimizer"],
        **recipe["optimizer_options"],
    )
    assert isinstance(optimizer, training.OPTIMIZERS[recipe["optimizer"]][0])
    assert optimizer.use_ema == (recipe["ema_momentum"] is not None)
    assert recipe["batch_size"] > 0 and recipe["epochs"] > 0


def test_pixel_cnn_pp_cifar10_recipe_has_the_papers_settings():
    recipe = recipes.get("pixel_cnn_pp/cifar10")
    optimizer = training.make_optimizer(
        learning_rate=recipe["learning_rate"],
        decay_rate=recipe["lr_decay"],
        ema_momentum=recipe["ema_momentum"],
        name=recipe["optimizer"],
        **recipe["optimizer_options"],
    )
    assert isinstance(optimizer, keras.optimizers.Adam)
    assert (optimizer.beta_1, optimizer.beta_2) == (0.95, 0.9995)
    assert optimizer.ema_momentum == 0.9995
    np.testing.assert_allclose(float(optimizer.learning_rate), 1e-3)
    optimizer.iterations.assign(1000)
    np.testing.assert_allclose(float(optimizer.learning_rate), 1e-3 * 0.999995**1000, rtol=1e-5)
    assert recipe["weight_norm"] and recipe["batch_size"] == 128
    from pixel_keras.models import presets

    assert presets.preset_config("pixel_cnn_pp", recipe["preset"])["dropout"] == 0.5
    for model in ("pixel_cnn", "row_lstm", "diagonal_bilstm"):
        for dataset in ("cifar10", "binarized_mnist"):
            paper = recipes.get(f"{model}/{dataset}")
            assert paper["optimizer"] == "rmsprop" and paper["batch_size"] == 16


def test_flags_given_replace_the_recipes_values():
    config = commands.resolve(_config("w", recipe="pixel_cnn_pp/cifar10", epochs=3))
    assert (config.model, config.preset, config.dataset) == ("pixel_cnn_pp", "cifar10", "cifar10")
    assert config.epochs == 3 and config.batch_size == 128
    assert config.ema_momentum == 0.9995 and config.weight_norm is True
    assert config.optimizer_options == {"beta_1": 0.95, "beta_2": 0.9995}
    # --ema_momentum=0 turns EMA off; another optimizer drops the recipe's options.
    config = commands.resolve(
        _config("w", recipe="pixel_cnn_pp/cifar10", ema_momentum=0.0, optimizer="rmsprop")
    )
    assert config.ema_momentum is None and config.optimizer_options == {}
    # No recipe: the --model's digits recipe, which is the old defaults.
    config = commands.resolve(_config("w", model="row_lstm"))
    assert config.recipe == "row_lstm/digits"
    assert (config.dataset, config.preset, config.batch_size, config.epochs) == (
        "digits", "tiny", 32, 30
    )
    assert (config.learning_rate, config.lr_decay, config.ema_momentum) == (2e-3, 0.999995, None)
    assert commands.resolve(_config("w")).ema_momentum == 0.99  # pixel_cnn_pp/digits


def test_unknown_recipe_and_a_conflicting_model_are_refused_clearly(tmp_path):
    with pytest.raises(ValueError, match="Expected one of: diagonal_bilstm/binarized_mnist"):
        commands.train(_config(tmp_path, recipe="pixel_cnn_pp/imagenet"))
    with pytest.raises(ValueError, match="trains --model=row_lstm"):
        commands.train(_config(tmp_path, recipe="row_lstm/digits", model="pixel_cnn"))
    with pytest.raises(ValueError, match="--weight_norm does not apply"):
        commands.train(_config(tmp_path, recipe="row_lstm/digits", weight_norm=True))
    run = subprocess.run(
        [sys.executable, "main.py", "train", "--recipe=cifar10"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert run.returncode != 0
    assert "--recipe must be one of" in run.stderr and "pixel_cnn_pp/cifar10" in run.stderr


@pytest.mark.parametrize("model", ["pixel_cnn", "row_lstm"])
def test_digits_recipes_train_and_evaluate(tmp_path, model):
    # One model of each family: PixelCNN++'s digits recipe runs in the EMA
    # tests above (with `eval`), and the Diagonal BiLSTM's differs from the
    # Row LSTM's only in the model's `kind`.
    metrics = commands.train(
        _config(tmp_path, recipe=f"{model}/digits", epochs=2, batch_size=512)
    )
    assert metrics["recipe"] == f"{model}/digits" and metrics["preset"] == "tiny"
    assert metrics["train_bits_per_dim"] < np.log2(17)
    assert metrics["test_bits_per_dim"] < np.log2(17)
    assert metrics["optimizer"] == "adam" and metrics["ema_momentum"] is None
