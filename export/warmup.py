"""Deprecated: moved to `pixel_keras.serving.warmup`."""

import warnings

from pixel_keras.serving.warmup import *  # noqa: F401,F403

warnings.warn(
    "`export.warmup` is deprecated; import `pixel_keras.serving.warmup`.",
    DeprecationWarning,
    stacklevel=2,
)
