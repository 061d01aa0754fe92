"""The papers' optimizers: Adam with one fused kernel per variable, RMSProp,
a per-step learning-rate decay and optional EMA (Polyak) weights.

- `fused_adam.py`: `FusedAdam`, Keras' Adam with one fused kernel per
  variable.
- `factory.py`: `make_optimizer` and `recipe_optimizer`, the optimizer of a
  training recipe (what `main.py` and `model.compile()` use).

Below the models in the import layers: a model's `compile()` with no
optimizer takes its family's recommended one from here.
"""

from pixel_keras.optimizers.factory import OPTIMIZERS
from pixel_keras.optimizers.factory import base_optimizer
from pixel_keras.optimizers.factory import make_optimizer
from pixel_keras.optimizers.factory import optimizer_name
from pixel_keras.optimizers.factory import recipe_optimizer
from pixel_keras.optimizers.fused_adam import FusedAdam

__all__ = [
    "FusedAdam",
    "OPTIMIZERS",
    "base_optimizer",
    "make_optimizer",
    "optimizer_name",
    "recipe_optimizer",
]
