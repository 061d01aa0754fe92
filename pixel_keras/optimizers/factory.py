"""The optimizers of the papers' recipes, with a per-step learning-rate decay
and optional EMA (Polyak) weights."""

import keras

from pixel_keras.optimizers.fused_adam import FusedAdam

# Optimizer name -> (Keras class, default arguments).
OPTIMIZERS = {
    # PixelCNN++'s Adam: beta_1 0.95, beta_2 0.9995; Keras' Adam with one
    # fused kernel per variable (`fused_adam.py`).
    "adam": (FusedAdam, {"beta_1": 0.95, "beta_2": 0.9995}),
    # The PixelRNN paper's RMSProp, with Keras' defaults (rho 0.9).
    "rmsprop": (keras.optimizers.RMSprop, {}),
}


def make_optimizer(
    learning_rate=1e-3,
    decay_rate=0.999995,
    *,
    ema_momentum=None,
    name="adam",
    **options,
):
    """An optimizer with a per-step exponential learning-rate decay.

    The defaults are PixelCNN++'s: Adam, learning rate 1e-3 multiplied by
    0.999995 after every step, beta_1 0.95, beta_2 0.9995; the paper also
    evaluates and samples with EMA weights of momentum 0.9995.

    Args:
        learning_rate: float, the initial learning rate.
        decay_rate: float in `(0, 1]`, the factor applied after every step
            (1 keeps it constant).
        ema_momentum: float in `(0, 1)`, or None (the default) for no EMA.
            With it the optimizer keeps an exponential moving average of the
            weights (Keras' `use_ema`): after step t,
            `average = m * average + (1 - m) * weights` (the first step copies
            the weights).
        name: a key of `OPTIMIZERS`, `"adam"` or `"rmsprop"`.
        **options: more arguments of the Keras optimizer; they replace its
            defaults in `OPTIMIZERS` (for Adam, e.g. `beta_1`, `beta_2`).

    Returns:
        A `keras.optimizers.Optimizer`.

    Raises:
        ValueError: for an unknown `name` or an `ema_momentum` outside
            `(0, 1)`.
    """
    if name not in OPTIMIZERS:
        raise ValueError(
            f"Expected `name` in {sorted(OPTIMIZERS)}. Received: name={name!r}"
        )
    if ema_momentum is not None and not 0.0 < ema_momentum < 1.0:
        raise ValueError(
            "Expected `ema_momentum` in (0, 1), or None for no EMA. "
            f"Received: ema_momentum={ema_momentum}"
        )
    optimizer_class, defaults = OPTIMIZERS[name]
    schedule = keras.optimizers.schedules.ExponentialDecay(
        learning_rate, decay_steps=1, decay_rate=decay_rate
    )
    ema = {} if ema_momentum is None else {"use_ema": True, "ema_momentum": ema_momentum}
    return optimizer_class(schedule, **{**defaults, **options}, **ema)


def base_optimizer(optimizer):
    """The optimizer that updates the weights: under "mixed_float16" Keras
    wraps it in a `LossScaleOptimizer` (its `inner_optimizer`)."""
    return getattr(optimizer, "inner_optimizer", optimizer)


def optimizer_name(optimizer):
    """The `OPTIMIZERS` key of an optimizer (looking through Keras'
    `LossScaleOptimizer`), else its class name in lower case."""
    optimizer = base_optimizer(optimizer)
    for name, (optimizer_class, _) in OPTIMIZERS.items():
        if isinstance(optimizer, optimizer_class):
            return name
    return type(optimizer).__name__.lower()


def recipe_optimizer(recipe):
    """The optimizer a training recipe names (`pixel_keras.recipes`): its
    optimizer, learning rate, per-step decay, EMA momentum and options, as
    `main.py train` builds it.

    Args:
        recipe: a recipe dict (`recipes.get(name)`).

    Returns:
        A `keras.optimizers.Optimizer` from `make_optimizer`.
    """
    return make_optimizer(
        learning_rate=recipe["learning_rate"],
        decay_rate=recipe["lr_decay"],
        ema_momentum=recipe["ema_momentum"],
        name=recipe["optimizer"],
        **recipe["optimizer_options"],
    )
