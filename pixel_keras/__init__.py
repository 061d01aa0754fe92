"""pixel_keras: autoregressive image models (PixelCNN++, PixelCNN, PixelRNN) for Keras 3.

`import pixel_keras` makes the public subpackages reachable, as
`import keras` does (`pixel_keras.models.PixelCNNPlusPlus`,
`pixel_keras.layers.MaskedConv2D`, ...). Each is imported on first use, so
that `pixel_keras.recipes` (plain data) can be read without TensorFlow.
"""

import importlib

__version__ = "0.3.0"

_SUBPACKAGES = (
    "cli",
    "compression",
    "conditioning",
    "data",
    "distributions",
    "images",
    "layers",
    "models",
    "optimizers",
    "recipes",
    "sampling",
    "serving",
    "training",
)


# What `import pixel_keras` makes public: its subpackages, each with an
# `__all__` of its own (docs/api_reference.py checks them).
__all__ = [*_SUBPACKAGES, "__version__"]


def __getattr__(name):
    if name in _SUBPACKAGES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_SUBPACKAGES])
