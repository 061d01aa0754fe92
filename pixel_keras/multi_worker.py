"""Deprecated: moved to `pixel_keras.training.multi_worker`."""

import warnings

from pixel_keras.training.multi_worker import *  # noqa: F401,F403

warnings.warn(
    "`pixel_keras.multi_worker` is deprecated; import `pixel_keras.training.multi_worker`.",
    DeprecationWarning,
    stacklevel=2,
)
