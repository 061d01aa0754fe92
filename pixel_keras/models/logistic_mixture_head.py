"""The discretized logistic mixture head: its parameters, and a pixel's
values from them in a cached loop.

PixelCNN++ (`models/pixel_cnn_pp/`) and PixelSNAIL's default head
(`models/pixel_snail/`) output, per pixel, the parameters of a
`DiscretizedLogisticMixture` over its channels (Salimans et al., 2017). Kept
here, once, so that neither family's folder imports the other's: the layout
of the parameters (`num_params`, `mixture_from_outputs`), and what a cached
loop draws from them (`pixel_values_of`), or has a coder choose channel by
channel from their conditional pmfs
(`DiscretizedLogisticMixture.channel_probs`).
"""

import tensorflow as tf
from keras import ops

from pixel_keras.distributions import DiscretizedLogisticMixture
from pixel_keras.models.gated_resnet_cache import at


def num_params(num_logistic_mix, channels):
    """Parameters per pixel of a mixture of `num_logistic_mix` components
    over `channels` channels: per component a logit, a location and a
    log-scale per channel, and `channels (channels - 1) / 2` coefficients."""
    return num_logistic_mix * (1 + 2 * channels + channels * (channels - 1) // 2)


def mixture_from_outputs(
    outputs, num_logistic_mix, channels, num_levels, min_log_scale, temperature=1.0
):
    """The `DiscretizedLogisticMixture` whose parameters a network outputs.

    `PixelCNNPlusPlus.output_distribution`, as a function for every family
    whose head outputs a mixture (PixelSNAIL's too). The layout: per pixel
    `num_logistic_mix` logits, then the components' locations and
    log-scales, `(num_logistic_mix, channels)` each, then their
    `channels (channels - 1) / 2` coefficients.

    Args:
        outputs: `(..., num_params)` tensor.
        num_logistic_mix: int, the components.
        channels: int, the image's channels.
        num_levels: int, values per channel.
        min_log_scale: float, lower bound of the log-scales.
        temperature: positive float, or a tensor that broadcasts to
            `outputs.shape[:-1]`.

    Returns:
        A `DiscretizedLogisticMixture` with batch shape `outputs.shape[:-1]`
        and event shape `(channels,)`.
    """
    outputs = ops.convert_to_tensor(outputs)
    k = num_logistic_mix
    c = channels
    prefix = ops.shape(outputs)[:-1]
    # One split, not four slices: the gradient of a slice is a zero
    # tensor of the whole input's size with the slice written into it,
    # and the four would then be added up; a split's is one concat.
    logits, locs, log_scales, coefficients = ops.split(
        outputs, [k, k + k * c, k + 2 * k * c], axis=-1
    )
    locs = ops.reshape(locs, (*prefix, k, c))
    log_scales = ops.maximum(ops.reshape(log_scales, (*prefix, k, c)), min_log_scale)
    if c > 1:
        coefficients = ops.tanh(ops.reshape(coefficients, (*prefix, k, c * (c - 1) // 2)))
    else:
        coefficients = None
    if not (isinstance(temperature, (int, float)) and temperature == 1.0):
        # A scalar, or one temperature per pixel of the batch shape.
        temperature = ops.cast(temperature, outputs.dtype)[..., None]
        logits = logits / temperature
        log_scales = log_scales + ops.log(temperature)[..., None]
    return DiscretizedLogisticMixture(
        logits=logits,
        locs=locs,
        log_scales=log_scales,
        coefficients=coefficients,
        num_levels=num_levels,
    )


def pixel_values_of(model, component_noise, channel_noise, temperature, choose=None):
    """`draw(row, col, params) -> values`: a pixel's values given its
    mixture parameters, drawn from the pixel's noise, or, with `choose`
    (compression), chosen channel by channel from their pmfs. The loops of
    every family whose likelihood is PixelCNN++'s mixture share it."""

    def draw(row, col, params):
        distribution = model.output_distribution(params, temperature)
        return distribution.sample_from_uniforms(
            at(at(component_noise, 1, row), 1, col),
            at(at(channel_noise, 1, row), 1, col),
        )

    if choose is None:
        return draw

    # A coder's pmfs, one XLA-compiled function per channel. The coding loop
    # is not compiled whole (its hook is a host callback), and at 256 levels
    # the pmf is much of its work: compiled, 0.97 ms against 1.42 ms a
    # sub-pixel at batch 100 (5 components, AMD EPYC, 2 cores). A function
    # with `jit_compile=True` is always compiled before it runs, so the
    # encoder's and the decoder's pmfs come from the same compiled code.
    def channel_pmf(channel):
        @tf.function(jit_compile=True, autograph=False)
        def pmf(params, earlier):
            return model.output_distribution(params).channel_probs(channel, earlier)

        return pmf

    channel_pmfs = [channel_pmf(channel) for channel in range(model.image_shape[-1])]

    def chosen(row, col, params):
        values = []
        for channel, pmf in enumerate(channel_pmfs):
            if values:
                earlier = tf.stack(values, -1)
            else:
                earlier = tf.zeros([tf.shape(params)[0], 0])
            values.append(choose(pmf(params, earlier), row, col, channel))
        return tf.stack(values, -1)

    return chosen
