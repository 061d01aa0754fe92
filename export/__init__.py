"""The kit for running TF Serving on pixel_keras exports (README.md), and
`client.py`: REST and gRPC requests for the signatures. Not installed: it
runs from a checkout.

The export itself is `pixel_keras.serving` (`pixel-keras export`). Its old
names here (`from export import export_model`, `export.saved_model`,
`export.signatures`, `export.warmup`) are deprecated aliases, kept for one
release; they warn when used, and `import export.client` imports no
pixel_keras.
"""

import warnings

# The names `export` gave before 0.3, all in `pixel_keras.serving` now.
_MOVED = (
    "LEGACY_LABEL_NAME",
    "SIGNATURE_NAMES",
    "WARMUP_FILE",
    "export_model",
    "serving_functions",
)

__all__ = ["client"]


def __getattr__(name):
    if name not in _MOVED:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    warnings.warn(
        f"`export.{name}` is deprecated; use `pixel_keras.serving.{name}` "
        f"(`from pixel_keras.serving import {name}`).",
        DeprecationWarning,
        stacklevel=2,
    )
    from pixel_keras import serving

    return getattr(serving, name)
