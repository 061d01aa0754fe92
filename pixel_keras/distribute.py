"""Deprecated: moved to `pixel_keras.training.distribute`."""

import warnings

from pixel_keras.training.distribute import *  # noqa: F401,F403

warnings.warn(
    "`pixel_keras.distribute` is deprecated; import `pixel_keras.training.distribute`.",
    DeprecationWarning,
    stacklevel=2,
)
