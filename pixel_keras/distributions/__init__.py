"""TensorFlow Probability distributions over pixels."""

from pixel_keras.distributions.discretized_logistic_mixture import (
    DiscretizedLogisticMixture,
)

__all__ = ["DiscretizedLogisticMixture"]
