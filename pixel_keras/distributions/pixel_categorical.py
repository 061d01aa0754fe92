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


def categorical_from_uniforms(logits, uniforms):
    """Inverse-CDF draws of categorical values, one per uniform.

    The value is the number of categories whose cumulative probability is at
    most `u`, so a given uniform always gives the same value (the samplers
    share noise this way) and a zero-probability category is never drawn.

    Args:
        logits: `(..., L)` float logits.
        uniforms: `(...)` floats in `[0, 1)`.

    Returns:
        `(...)` float values in `[0, L - 1]`.
    """
    cumulative = tf.math.cumsum(tf.nn.softmax(logits, axis=-1), axis=-1)
    # Normalized by the total, which float32 rounding can leave below 1: a
    # zero-probability last category then ends exactly at 1 and a uniform in
    # [0, 1) never reaches it.
    cumulative = cumulative / cumulative[..., -1:]
    below = tf.cast(cumulative <= uniforms[..., None], logits.dtype)
    return tf.minimum(tf.reduce_sum(below, axis=-1), tf.cast(tf.shape(logits)[-1] - 1, logits.dtype))
