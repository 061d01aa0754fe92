"""EMA (Polyak) weights: swapping them in and out of a model.

An optimizer made with `ema_momentum` (`optimizers.make_optimizer`) keeps an
exponential moving average of the trainable weights (Keras' `use_ema`). The
model trains on its raw weights; validation during `fit` uses the averages;
at the end of `train` the model holds the averages (as Keras' `fit` leaves
it). Checkpoints and backups hold the raw weights and, as optimizer
variables, the averages: `checkpointing.load_checkpoint` gives back the
averages for evaluation and sampling, or the raw weights and the averages to
go on training (`ema_weights=False`). The export serves the averages
(`ema_weights`, the one swap both use).
"""

import contextlib

import keras

from pixel_keras.training.optimizers import base_optimizer

def uses_ema(model):
    """Whether `model`'s optimizer keeps EMA weights (and has built them)."""
    # Under "mixed_float16" the inner optimizer of Keras' `LossScaleOptimizer`
    # keeps the averages (the wrapper's `finalize_variable_values` assigns
    # them).
    optimizer = base_optimizer(getattr(model, "optimizer", None))
    return bool(
        optimizer is not None
        and getattr(optimizer, "use_ema", False)
        and optimizer.built
    )


def use_ema_weights(model):
    """Assigns the optimizer's EMA values to the model's trainable weights.

    Does nothing for a model without EMA weights. The averages stay in the
    optimizer, so assigning them again changes nothing.

    Returns:
        Whether the model now holds the EMA weights.
    """
    if not uses_ema(model):
        return False
    model.optimizer.finalize_variable_values(model.trainable_variables)
    return True


@contextlib.contextmanager
def ema_weights(model):
    """A block in which `model` holds its EMA weights.

    Copies the raw weights aside, assigns the averages, and assigns the raw
    weights back when the block ends (however it ends), so the caller's
    model is exactly as it was. (Keras' `SwapEMAWeights` swaps by adding and
    subtracting, which moves the raw weights by rounding.) Does nothing for
    a model without EMA weights.

    Yields:
        Whether the model holds EMA weights in the block.

    Example:

    ```python
    with ema_weights(model):
        model.evaluate(test_data)  # with the averages
    ```
    """
    if not uses_ema(model):
        yield False
        return
    raw = [variable.numpy() for variable in model.trainable_variables]
    use_ema_weights(model)
    try:
        yield True
    finally:
        for variable, value in zip(model.trainable_variables, raw):
            variable.assign(value)


class ValidateWithEMAWeights(keras.callbacks.Callback):
    """Validation during `fit` with the EMA weights (`ema_weights`); the
    training steps, checkpoints and backups keep the raw weights exactly."""

    def __init__(self):
        super().__init__()
        self._swap = contextlib.ExitStack()

    def on_test_begin(self, logs=None):
        self._swap.enter_context(ema_weights(self.model))

    def on_test_end(self, logs=None):
        self._swap.close()
