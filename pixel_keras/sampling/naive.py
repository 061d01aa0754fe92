"""The naive sampling loops: the whole network once per pixel.

They are the reference the cached loops (each model family's
`cached_sampler`) are tested against: both consume the same noise
(`noise.noise_per_image`) and draw the same images. A model that draws a
pixel's channels one at a time (`model.samples_subpixels`, the PixelRNN
paper's models: R, then G given R, then B) runs the network once per
sub-pixel.
"""

import tensorflow as tf

from pixel_keras.distributions import pixel_categorical
from pixel_keras.sampling.known_pixels import first_unknown_pixel


def naive_loop(model):
    """The traced per-pixel loop of `model`."""
    height, width, channels = model.image_shape

    # Explicit control flow (`tf.while_loop`): no autograph to trace.
    @tf.function(reduce_retracing=True, autograph=False)
    def loop(images, known, condition, component_noise, channel_noise, temperature):
        num_pixels = height * width
        start = first_unknown_pixel(known)
        positions = tf.reshape(tf.range(num_pixels), [1, height, width, 1])

        def body(index, images):
            row, col = index // width, index % width
            outputs = model(model.make_inputs(images, condition), training=False)
            distribution = model.output_distribution(
                outputs[:, row, col], temperature
            )
            values = distribution.sample_from_uniforms(
                component_noise[:, row, col], channel_noise[:, row, col]
            )
            write = tf.logical_and(
                tf.equal(positions, index),
                tf.logical_not(known)[..., tf.newaxis],
            )
            images = tf.where(write, values[:, tf.newaxis, tf.newaxis, :], images)
            return index + 1, images

        _, images = tf.while_loop(
            lambda index, _: index < num_pixels,
            body,
            (start, images),
            parallel_iterations=1,
        )
        return tf.cast(images, model.sample_dtype)

    return loop


def naive_subpixel_loop(model):
    """The traced per-sub-pixel loop of `model`."""
    height, width, channels = model.image_shape

    @tf.function(reduce_retracing=True, autograph=False)
    def loop(images, known, condition, noise, temperature):
        num_pixels = height * width
        start = first_unknown_pixel(known)
        positions = tf.reshape(tf.range(num_pixels), [1, height, width, 1])
        channel_ids = tf.reshape(tf.range(channels), [1, 1, 1, channels])

        def body(index, images):
            pixel, channel = index // channels, index % channels
            row, col = pixel // width, pixel % width
            outputs = model(model.make_inputs(images, condition), training=False)
            logits = model.channel_logits(outputs[:, row, col])[:, channel]
            values = pixel_categorical.categorical_from_uniforms(
                logits / temperature[:, tf.newaxis], noise[:, row, col, channel]
            )
            write = tf.logical_and(
                tf.logical_and(
                    tf.equal(positions, pixel), tf.equal(channel_ids, channel)
                ),
                tf.logical_not(known)[..., tf.newaxis],
            )
            images = tf.where(write, values[:, tf.newaxis, tf.newaxis, tf.newaxis], images)
            return index + 1, images

        _, images = tf.while_loop(
            lambda index, _: index < num_pixels * channels,
            body,
            (start * channels, images),
            parallel_iterations=1,
        )
        return tf.cast(images, model.sample_dtype)

    return loop
