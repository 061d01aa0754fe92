"""Moved to `pixel_keras.optimizers` (which the models' `compile()` uses
too); this module keeps the old import path working."""

from pixel_keras.optimizers.factory import OPTIMIZERS  # noqa: F401
from pixel_keras.optimizers.factory import base_optimizer  # noqa: F401
from pixel_keras.optimizers.factory import make_optimizer  # noqa: F401
from pixel_keras.optimizers.factory import optimizer_name  # noqa: F401
