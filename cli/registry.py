"""Deprecated: moved to `pixel_keras.cli.registry`."""

import warnings

from pixel_keras.cli.registry import *  # noqa: F401,F403

warnings.warn(
    "`cli.registry` is deprecated; import `pixel_keras.cli.registry`.",
    DeprecationWarning,
    stacklevel=2,
)
