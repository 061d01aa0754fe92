"""Deprecated: moved to `pixel_keras.serving.signatures`."""

import warnings

from pixel_keras.serving.signatures import *  # noqa: F401,F403

warnings.warn(
    "`export.signatures` is deprecated; import `pixel_keras.serving.signatures`.",
    DeprecationWarning,
    stacklevel=2,
)
