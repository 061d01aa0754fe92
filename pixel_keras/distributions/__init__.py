"""TensorFlow Probability distributions over pixels."""

import warnings

from pixel_keras.distributions import pixel_categorical
from pixel_keras.distributions.discretized_logistic_mixture import (
    DiscretizedLogisticMixture,
)

__all__ = ["DiscretizedLogisticMixture", "pixel_categorical"]


def __getattr__(name):
    # Deprecated: the whole-image distribution runs the samplers, which
    # build on these per-pixel distributions, so it lives in
    # `pixel_keras.sampling` (imported here only when asked for, with a
    # warning; pyproject.toml's import contract names this one exception).
    if name == "AutoregressiveImage":
        from pixel_keras.sampling import AutoregressiveImage

        warnings.warn(
            "`pixel_keras.distributions.AutoregressiveImage` is deprecated; use "
            "`pixel_keras.sampling.AutoregressiveImage` or `model.as_distribution()`.",
            DeprecationWarning,
            stacklevel=2,
        )
        return AutoregressiveImage
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
