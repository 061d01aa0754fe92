"""A run's settings: the recipe's, replaced by the flags given; unknown
recipes and conflicting flags are refused clearly."""

import subprocess
import sys

import pytest

from pixel_keras.cli import commands
from tests import helpers


def test_flags_given_replace_the_recipes_values():
    config = commands.resolve(helpers.run_config("w", recipe="pixel_cnn_pp/cifar10", epochs=3))
    assert (config.model, config.preset, config.dataset) == ("pixel_cnn_pp", "cifar10", "cifar10")
    assert config.epochs == 3 and config.batch_size == 128
    assert config.ema_momentum == 0.9995 and config.weight_norm is True
    assert config.optimizer_options == {"beta_1": 0.95, "beta_2": 0.9995}
    # --ema_momentum=0 turns EMA off; another optimizer drops the recipe's options.
    config = commands.resolve(
        helpers.run_config(
            "w", recipe="pixel_cnn_pp/cifar10", ema_momentum=0.0, optimizer="rmsprop"
        )
    )
    assert config.ema_momentum is None and config.optimizer_options == {}
    # No recipe: the --model's digits recipe, which is the old defaults.
    config = commands.resolve(helpers.run_config("w", model="row_lstm"))
    assert config.recipe == "row_lstm/digits"
    assert (config.dataset, config.preset, config.batch_size, config.epochs) == (
        "digits", "tiny", 32, 30
    )
    assert (config.learning_rate, config.lr_decay, config.ema_momentum) == (2e-3, 0.999995, None)
    assert commands.resolve(helpers.run_config("w")).ema_momentum == 0.99  # pixel_cnn_pp/digits


def test_unknown_recipe_and_a_conflicting_model_are_refused_clearly(tmp_path):
    with pytest.raises(ValueError, match="Expected one of: diagonal_bilstm/binarized_mnist"):
        commands.train(helpers.run_config(tmp_path, recipe="pixel_cnn_pp/imagenet"))
    with pytest.raises(ValueError, match="trains --model=row_lstm"):
        commands.train(helpers.run_config(tmp_path, recipe="row_lstm/digits", model="pixel_cnn"))
    with pytest.raises(ValueError, match="--weight_norm does not apply"):
        commands.train(helpers.run_config(tmp_path, recipe="row_lstm/digits", weight_norm=True))
    run = subprocess.run(
        [sys.executable, "main.py", "train", "--recipe=cifar10"],
        cwd=helpers.ROOT, capture_output=True, text=True, timeout=120,
    )
    assert run.returncode != 0
    assert "--recipe must be one of" in run.stderr and "pixel_cnn_pp/cifar10" in run.stderr
