"""Per-sub-pixel categorical likelihood of the PixelRNN paper's models.

Each channel of each pixel is one of `num_levels` values with its own softmax
(a Bernoulli for binarized images, `num_levels = 2`). The distributions here
are the field's own `tfd.Categorical` and `tfd.Bernoulli`, arranged so that a
pixel is one event of `C` channels, as `DiscretizedLogisticMixture` is.
"""

import tensorflow as tf
import tensorflow_probability as tfp

tfd = tfp.distributions


def num_logits(num_channels, num_levels):
    """Logits per pixel: `C * num_levels`, or `C` (one Bernoulli logit per
    channel) for binarized images."""
    return num_channels if num_levels == 2 else num_channels * num_levels


def channel_logits(outputs, num_channels, num_levels):
    """Per-channel categorical logits `(..., C, num_levels)` from a head's
    `(..., num_logits)` output (a Bernoulli logit `l` becomes `[0, l]`)."""
    outputs = tf.convert_to_tensor(outputs)
    if num_levels == 2:
        return tf.stack([tf.zeros_like(outputs), outputs], axis=-1)
    prefix = tf.shape(outputs)[:-1]
    return tf.reshape(outputs, tf.concat([prefix, [num_channels, num_levels]], 0))


def pixel_categorical(outputs, num_channels, num_levels, temperature=1.0):
    """The distribution of a pixel's channels given the head's outputs.

    Args:
        outputs: `(..., num_logits(C, num_levels))` logits; channel `c` owns
            entries `[c * L, (c + 1) * L)` (or entry `c` for Bernoulli).
        num_channels: int C.
        num_levels: int L in `[2, 256]`.
        temperature: positive float, or a tensor that broadcasts to
            `outputs.shape[:-1]`; logits are divided by it.

    Returns:
        `tfd.Independent` with batch shape `outputs.shape[:-1]` and event
        shape `(C,)`, over float values in `[0, L - 1]`: `tfd.Bernoulli` for
        `L = 2`, else `tfd.Categorical`.
    """
    outputs = tf.convert_to_tensor(outputs)
    if not (isinstance(temperature, (int, float)) and temperature == 1.0):
        outputs = outputs / tf.cast(temperature, outputs.dtype)[..., None]
    if num_levels == 2:
        per_channel = tfd.Bernoulli(logits=outputs, dtype=outputs.dtype)
    else:
        per_channel = tfd.Categorical(
            logits=channel_logits(outputs, num_channels, num_levels),
            dtype=outputs.dtype,
        )
    return tfd.Independent(per_channel, reinterpreted_batch_ndims=1)


# The block size of `cumulative_sum`'s scan in blocks.
_SCAN_BLOCK = 16


def cumulative_sum(probs, in_blocks=False):
    """`tf.math.cumsum` over the last axis of nonnegative `probs`.

    With `in_blocks`, the axis is summed in blocks of 16: each block's
    running sums as one matrix product with an upper triangle of ones, the
    blocks' offsets (the totals of the blocks before) as another, and each
    value its block's offset plus its running sum. Compiled by XLA, this is
    three kernels where its `cumsum` is a few reduce-windows, and took half
    the time on `(16, 256)`; without XLA it is a dozen small ops where
    `cumsum` is one. A zero probability adds exact zeros inside its block's
    product, so within a block a zero-probability category still covers no
    uniform; at a block's first category the offset is summed in another
    order than the running sum before it and may differ by a rounding step.
    """
    levels = probs.shape[-1]
    if not in_blocks or levels is None or levels <= _SCAN_BLOCK:
        return tf.math.cumsum(probs, axis=-1)
    num_blocks = -(-levels // _SCAN_BLOCK)
    rank = probs.shape.rank
    # Zeros after the last category fill the last block.
    padded = tf.pad(probs, [[0, 0]] * (rank - 1) + [[0, num_blocks * _SCAN_BLOCK - levels]])
    leading = tf.shape(probs)[:-1]
    upper = tf.linalg.band_part(tf.ones([_SCAN_BLOCK, _SCAN_BLOCK], probs.dtype), 0, -1)
    # Two-dimensional products: no batch axes to broadcast (tensorflow#117700).
    running = tf.matmul(tf.reshape(padded, [-1, _SCAN_BLOCK]), upper)
    running = tf.reshape(running, [-1, num_blocks, _SCAN_BLOCK])
    strictly_upper = tf.linalg.band_part(tf.ones([num_blocks, num_blocks], probs.dtype), 0, -1)
    strictly_upper = strictly_upper - tf.eye(num_blocks, dtype=probs.dtype)
    offsets = tf.matmul(running[..., -1], strictly_upper)
    cumulative = offsets[..., tf.newaxis] + running
    cumulative = tf.reshape(cumulative, tf.concat([leading, [num_blocks * _SCAN_BLOCK]], 0))
    return cumulative[..., :levels]


def categorical_from_uniforms(logits, uniforms, scan_in_blocks=False):
    """Inverse-CDF draws of categorical values, one per uniform.

    The value is the number of categories whose cumulative probability is at
    most `u`, so a given uniform always gives the same value (the samplers
    share noise this way) and a zero-probability category is never drawn.

    Args:
        logits: `(..., L)` float logits.
        uniforms: `(...)` floats in `[0, 1)`.
        scan_in_blocks: whether the cumulative probabilities are summed in
            blocks (`cumulative_sum`), which is faster where XLA compiles
            the caller. The sums then differ in rounding only.

    Returns:
        `(...)` float values in `[0, L - 1]`.
    """
    cumulative = cumulative_sum(tf.nn.softmax(logits, axis=-1), scan_in_blocks)
    # Normalized by the total, which float32 rounding can leave below 1: a
    # zero-probability last category then ends exactly at 1 and a uniform in
    # [0, 1) never reaches it.
    cumulative = cumulative / cumulative[..., -1:]
    below = tf.cast(cumulative <= uniforms[..., None], logits.dtype)
    return tf.minimum(tf.reduce_sum(below, axis=-1), tf.cast(tf.shape(logits)[-1] - 1, logits.dtype))
