"""The papers' training settings (`pixel_keras/recipes.py`): every recipe
builds its model and optimizer; PixelCNN++'s CIFAR-10 settings."""

import keras
import numpy as np
import pytest

from pixel_keras import recipes
from pixel_keras import training
from pixel_keras.cli import registry


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
