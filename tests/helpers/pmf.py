"""Exact pmfs over every image of tiny models, and how samples fit them."""

import itertools
import math

import numpy as np
import scipy.special
import scipy.stats

def all_images(image_shape, num_levels):
    """Every image of `image_shape` with values in `[0, num_levels)`."""
    values = itertools.product(range(num_levels), repeat=math.prod(image_shape))
    return np.array(list(values), np.int64).reshape(-1, *image_shape)


def image_index(images, num_levels):
    """The row of each image in `all_images` (last sub-pixel fastest)."""
    flat = np.asarray(images, np.int64).reshape(len(images), -1)
    return flat @ num_levels ** np.arange(flat.shape[1] - 1, -1, -1)


def categorical_log_prob(model, images, condition=None, temperature=1.0):
    """log p(images) in float64 under a PixelCNN or PixelRNN: log-softmax of
    each sub-pixel's logits at its value, summed, for logits divided by
    `temperature`."""
    images = np.asarray(images)
    outputs = model(model.make_inputs(images, condition), training=False)
    logits = model.channel_logits(outputs).numpy().astype(np.float64) / temperature
    log_softmax = logits - scipy.special.logsumexp(logits, axis=-1, keepdims=True)
    picked = np.take_along_axis(log_softmax, images[..., None].astype(np.int64), -1)
    return picked.sum(axis=(1, 2, 3, 4))


def sharpen(model, images, std=2.5):
    """Scales the last layer's kernel so that the logits at `images` have
    standard deviation `std` (about 0.02 at initialization): the conditionals
    are then far from uniform and far from one another, so that a wrong
    likelihood or sampler would show. The output stack after the last
    nonlinearity is linear without biases at initialization, so the logits
    scale with the kernel."""
    outputs = model(np.asarray(images, np.float32), training=False)
    layer = model.get_layer("logits")
    layer.kernel.assign(layer.kernel * (std / float(np.std(outputs))))


def sample_fit_p_value(samples, log_probs, num_levels):
    """Chi-square p-value of sampled images against exact `log_probs` over
    `all_images` (outcomes expected fewer than 5 times are pooled)."""
    counts = np.bincount(image_index(samples, num_levels), minlength=len(log_probs))
    probs = np.exp(log_probs - scipy.special.logsumexp(log_probs))
    expected = probs * len(samples)
    small = expected < 5
    if small.any():
        counts = np.append(counts[~small], counts[small].sum())
        expected = np.append(expected[~small], expected[small].sum())
    return scipy.stats.chisquare(counts, expected).pvalue


def independent_log_probs(log_probs, images):
    """log pmf of the sub-pixels drawn independently from their marginals."""
    probs = np.exp(log_probs)
    flat = np.asarray(images).reshape(len(images), -1)
    result = np.zeros(len(images))
    for column in flat.T:
        marginal = np.bincount(column, weights=probs)
        result += np.log(marginal[column])
    return result
