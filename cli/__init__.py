"""Deprecated: the command line moved to `pixel_keras.cli` (installed, with
the `pixel-keras` console script). This alias, kept for one release, works
from a checkout only."""

import warnings

warnings.warn(
    "`cli` is deprecated; import `pixel_keras.cli` (e.g. "
    "`from pixel_keras.cli import commands`).",
    DeprecationWarning,
    stacklevel=2,
)
