"""A run's settings: the recipe's, replaced by every flag that is given."""

import types

from pixel_keras import recipes

# The flags whose value, when not given, comes from the recipe.
RECIPE_FLAGS = (
    "model",
    "preset",
    "dataset",
    "weight_norm",
    "batch_size",
    "epochs",
    "optimizer",
    "learning_rate",
    "lr_decay",
    "ema_momentum",
)


def _values(config):
    if hasattr(config, "flag_values_dict"):  # absl FLAGS
        return config.flag_values_dict()
    return dict(vars(config))


def resolve(config):
    """The run's settings: the recipe's, replaced by every flag that is given.

    Args:
        config: `main.py`'s flags, or a namespace with their names; a flag of
            `RECIPE_FLAGS` that is None or missing takes the recipe's value.

    Returns:
        A new namespace with every attribute of `config`, the recipe's values
        filled in, `recipe` (its name) and `optimizer_options`.

    Raises:
        ValueError: for an unknown recipe, or a `--model` other than the
            recipe's.
    """
    values = _values(config)
    model = values.get("model")
    name = values.get("recipe") or recipes.default_name(model or "pixel_cnn_pp")
    recipe = recipes.get(name)
    if model is not None and model != recipe["model"]:
        raise ValueError(
            f"--recipe={name} trains --model={recipe['model']}. Received: "
            f"--model={model}; drop --model, or choose a {model}/... recipe."
        )
    for key in RECIPE_FLAGS:
        if values.get(key) is None:
            values[key] = recipe.get(key)
    values["recipe"] = name
    # The recipe's optimizer options belong to its optimizer.
    values["optimizer_options"] = (
        recipe["optimizer_options"] if values["optimizer"] == recipe["optimizer"] else {}
    )
    if values["ema_momentum"] == 0:
        values["ema_momentum"] = None  # --ema_momentum=0 turns EMA off
    return types.SimpleNamespace(**values)
