"""Tiny models of every family, and the digits as arrays."""

import numpy as np

from pixel_keras import data
from pixel_keras.models import PixelCNN
from pixel_keras.models import PixelCNNPlusPlus
from pixel_keras.models import PixelRNN

def tiny_pixel_cnn_pp(**overrides):
    """A small PixelCNN++ built from the `tiny` preset."""
    config = {"num_filters": 8, "num_logistic_mix": 2}
    config.update(overrides)
    return PixelCNNPlusPlus.from_preset("tiny", **config)


def tiny_pixel_cnn(**overrides):
    """A small PixelCNN built from the `tiny` preset."""
    config = {"num_filters": 6, "num_layers": 1, "output_filters": 12}
    config.update(overrides)
    return PixelCNN.from_preset("tiny", **config)


def tiny_pixel_rnn(kind, **overrides):
    """A small PixelRNN built from the `tiny` preset."""
    config = {"kind": kind, "num_filters": 6, "num_layers": 1, "output_filters": 12}
    config.update(overrides)
    return PixelRNN.from_preset("tiny", **config)


def perturb_weights(model, scale, seed=0):
    """Moves every weight off its initial value by normal noise of `scale`
    (zero biases, gates near the identity), so that every weight changes
    the outputs noticeably."""
    generator = np.random.default_rng(seed)
    for weight in model.weights:
        weight.assign(weight + generator.normal(0.0, scale, weight.shape).astype("float32"))
    return model


def digits(limit=None, split="train", labels=False):
    """The embedded digits as float32 images (and int labels)."""
    images, label_values = data.images_and_labels(
        getattr(data.load("digits"), split), limit=limit
    )
    images = images.astype("float32")
    return (images, label_values) if labels else images
