"""Deprecated: moved to `pixel_keras.serving.saved_model`."""

import warnings

from pixel_keras.serving.saved_model import *  # noqa: F401,F403

warnings.warn(
    "`export.saved_model` is deprecated; import `pixel_keras.serving.saved_model`.",
    DeprecationWarning,
    stacklevel=2,
)
