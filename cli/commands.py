"""Deprecated: moved to `pixel_keras.cli.commands`."""

import warnings

from pixel_keras.cli.commands import *  # noqa: F401,F403

warnings.warn(
    "`cli.commands` is deprecated; import `pixel_keras.cli.commands`.",
    DeprecationWarning,
    stacklevel=2,
)
