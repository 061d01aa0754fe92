"""TensorFlow Probability distributions over pixels."""

from pixel_keras.distributions import pixel_categorical
from pixel_keras.distributions.discretized_logistic_mixture import (
    DiscretizedLogisticMixture,
)

__all__ = ["DiscretizedLogisticMixture", "pixel_categorical"]
