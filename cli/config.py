"""Deprecated: moved to `pixel_keras.cli.config`."""

import warnings

from pixel_keras.cli.config import *  # noqa: F401,F403

warnings.warn(
    "`cli.config` is deprecated; import `pixel_keras.cli.config`.",
    DeprecationWarning,
    stacklevel=2,
)
