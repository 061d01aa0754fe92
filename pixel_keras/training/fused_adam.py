"""Moved to `pixel_keras.optimizers.fused_adam`; this module keeps the old
import path working."""

from pixel_keras.optimizers.fused_adam import FusedAdam  # noqa: F401
from pixel_keras.optimizers.fused_adam import _plain_variable  # noqa: F401
