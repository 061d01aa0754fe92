"""Which earlier sub-pixels each output of a PixelRNN-paper model reads."""

import itertools
import math

import numpy as np
import tensorflow as tf

def subpixel_dependencies(model, images, condition=None):
    """Which input sub-pixels the logits of each output sub-pixel depend on.

    The gradient of the logits of one sub-pixel with respect to the image
    is taken at several images, as a ReLU can hide a dependence at one of
    them. All in one backward pass: every image is repeated once per output
    sub-pixel and copy `k` back-propagates only the logits of sub-pixel `k`
    (the copies do not interact, as no layer mixes the batch).

    Args:
        model: a PixelCNN or PixelRNN.
        images: `(N, H, W, C)` integer-valued images.
        condition: int `(N,)` class labels for a class-conditional model.

    Returns:
        bool `(H, W, C, H, W, C)`: `[r, c, k]` marks the input sub-pixels
        that the logits of channel `k` at pixel `(r, c)` depend on at some
        of the images.
    """
    shape = model.image_shape
    size = math.prod(shape)
    images = np.asarray(images, np.float32)
    num = len(images)
    batch = tf.constant(np.repeat(images, size, 0))
    selector = np.tile(np.eye(size, dtype=np.float32), (num, 1))
    selector = selector.reshape(num * size, *shape, 1)
    if condition is not None:
        condition = np.repeat(np.asarray(condition, np.int32), size)
    with tf.GradientTape() as tape:
        tape.watch(batch)
        outputs = model(model.make_inputs(batch, condition), training=False)
        target = tf.reduce_sum(selector * model.channel_logits(outputs))
    gradient = np.abs(tape.gradient(target, batch).numpy())
    gradient = gradient.reshape(num, *shape, *shape).sum(axis=0)
    return gradient > 0


def perturbation_dependencies(model, images, condition=None):
    """Which input sub-pixels each output sub-pixel's logits depend on, found
    by changing one input value at a time (one-hot and embedded inputs have
    no gradient with respect to the values).

    Returns:
        bool `(H, W, C, H, W, C)`, as `subpixel_dependencies`.
    """
    shape = model.image_shape
    images = np.asarray(images, np.float32)
    num = len(images)
    changed = []
    for index in itertools.product(*(range(d) for d in shape)):
        moved = images.copy()
        moved[(slice(None), *index)] = (moved[(slice(None), *index)] + 1) % model.num_levels
        changed.append(moved)
    batch = np.concatenate([images, *changed])
    conditions = None
    if condition is not None:
        conditions = np.tile(condition, (len(changed) + 1,) + (1,) * (condition.ndim - 1))
    logits = model.channel_logits(model(model.make_inputs(batch, conditions))).numpy()
    base, moved = logits[:num], logits[num:].reshape(len(changed), num, *logits.shape[1:])
    # Above rounding: the rows of one batch may be computed in different
    # orders, so unchanged logits can still differ in their last bits.
    differs = np.abs(moved - base).max(axis=(1, -1)) > 1e-4  # (inputs, H, W, C)
    return np.moveaxis(differs.reshape(*shape, *shape), (0, 1, 2), (3, 4, 5))


def window_a(height, width):
    """Earlier pixels inside the 7 x 7 mask-A window of each pixel."""
    field = np.zeros((height, width, height, width), bool)
    for r, c in itertools.product(range(height), range(width)):
        field[r, c, max(r - 3, 0) : r, max(c - 3, 0) : c + 4] = True
        field[r, c, r, max(c - 3, 0) : c] = True
    return field


def expected_dependencies(image_shape, layer_reads):
    """The sub-pixel dependencies that a stack of masked layers allows.

    The 7 x 7 mask-A input convolution gives channel group `g` at position
    `q` every channel of the earlier pixels in its window and channels `< g`
    of pixel `q`. Every later layer gives group `g` at `p` what groups
    `<= g` at `p` had, and everything any group had at each other position
    it reads (other positions are read through all channel groups).

    Args:
        image_shape: `(H, W, C)`.
        layer_reads: for each layer after the input convolution, bool
            `(H, W, H, W)`: the positions other than itself whose features
            the layer's output at each position reads.

    Returns:
        bool `(H, W, C, H, W, C)`, as `subpixel_dependencies`.
    """
    height, width, channels = image_shape
    size = height * width
    seen = np.zeros((size, channels, size, channels), bool)
    seen |= window_a(height, width).reshape(size, 1, size, 1)
    for g in range(channels):
        seen[np.arange(size), g, np.arange(size), :g] = True
    for reads in layer_reads:
        everything = seen[:, -1].reshape(size, size * channels).astype(np.int64)
        reached = reads.reshape(size, size).astype(np.int64) @ everything > 0
        seen |= reached.reshape(size, 1, size, channels)
    return seen.reshape(height, width, channels, height, width, channels)


def assert_autoregressive(dependencies):
    """Raster order and R -> G -> B order, with dependence where it must be.

    The logits of channel `k` at pixel `i` depend on no pixel after `i` and
    on no channel `>= k` of `i`; they depend on some earlier pixel (when there
    is one) and, for `k > 0`, on channel `k - 1` of `i`.
    """
    height, width, channels = dependencies.shape[:3]
    flat = dependencies.reshape(height * width, channels, height * width, channels)
    for i, k in itertools.product(range(height * width), range(channels)):
        where = f"channel {k} of pixel {divmod(i, width)}"
        assert not flat[i, k, i + 1 :].any(), f"{where} depends on later pixels"
        assert not flat[i, k, i, k:].any(), f"{where} depends on channels >= {k}"
        if i > 0:
            assert flat[i, k, :i].any(), f"{where} depends on no earlier pixel"
        if k > 0:
            assert flat[i, k, i, k - 1], f"{where} ignores channel {k - 1}"
