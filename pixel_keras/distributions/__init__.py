"""TensorFlow Probability distributions over pixels."""

from pixel_keras.distributions import pixel_categorical
from pixel_keras.distributions.autoregressive_image import AutoregressiveImage
from pixel_keras.distributions.discretized_logistic_mixture import (
    DiscretizedLogisticMixture,
)

__all__ = ["AutoregressiveImage", "DiscretizedLogisticMixture", "pixel_categorical"]
