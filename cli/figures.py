"""Deprecated: moved to `pixel_keras.cli.figures`."""

import warnings

from pixel_keras.cli.figures import *  # noqa: F401,F403

warnings.warn(
    "`cli.figures` is deprecated; import `pixel_keras.cli.figures`.",
    DeprecationWarning,
    stacklevel=2,
)
