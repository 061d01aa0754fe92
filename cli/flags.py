"""Deprecated: moved to `pixel_keras.cli.flags`."""

import warnings

from pixel_keras.cli.flags import *  # noqa: F401,F403

warnings.warn(
    "`cli.flags` is deprecated; import `pixel_keras.cli.flags`.",
    DeprecationWarning,
    stacklevel=2,
)
