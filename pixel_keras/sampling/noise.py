"""Seeds and noise: all the randomness of sampling, drawn up front.

Image `i` of a batch gets its own stateless seed, and all of its noise comes
from that seed: it depends on nothing else in the batch, and any sampler
that consumes the same noise draws the same image.
"""

import numpy as np
import tensorflow as tf


def per_image_seeds(seed, num):
    """One stateless seed per image, int32 `[num, 2]`.

    Args:
        seed: a Python int, an int `[2]` seed (split into `num` seeds), or an
            int `[num, 2]` array of per-image seeds (used as is).
        num: the number of images.

    Returns:
        int32 tensor `[num, 2]`.

    Raises:
        ValueError: if the seed has another shape or is not an integer.
    """
    if isinstance(seed, (bool, np.bool_)) or seed is None:
        raise ValueError(
            "Expected `seed` to be an int, an int [2] seed or an int [num, 2] "
            f"array of per-image seeds. Received: seed={seed!r}"
        )
    if isinstance(seed, (int, np.integer)):
        if not -(2**31) <= int(seed) < 2**31:
            raise ValueError(
                f"Expected an int32 `seed`. Received: seed={seed} out of range"
            )
        seed = [0, int(seed)]
    seed = tf.convert_to_tensor(seed)
    if not seed.dtype.is_integer:
        raise ValueError(
            f"Expected an integer `seed`. Received: seed of dtype {seed.dtype.name}"
        )
    seed = tf.cast(seed, tf.int32)
    if seed.shape.rank == 1 and seed.shape[0] == 2:
        return tf.random.experimental.stateless_split(seed, num)
    if seed.shape.rank == 2 and seed.shape[1] == 2:
        if seed.shape[0] is not None and seed.shape[0] != num:
            raise ValueError(
                f"Expected per-image seeds of shape [{num}, 2]. "
                f"Received: seed.shape={tuple(seed.shape)}"
            )
        return seed
    raise ValueError(
        "Expected `seed` of shape [2] or [num, 2]. "
        f"Received: seed.shape={tuple(seed.shape)}"
    )


def noise_per_image(model, seeds):
    """Uniform noise for every pixel of every image, from one seed per image.

    This is all the randomness of a sample: the samplers turn it into
    values (`sample_from_uniforms`, `categorical_from_uniforms`), so two
    samplers given the same noise draw the same images.

    Args:
        model: a pixel_keras model (see `pixel_keras.sampling`).
        seeds: int32 `(batch, 2)`, one stateless seed per image.

    Returns:
        A tuple of float32 tensors in [0, 1): `(noise,)` of shape `(batch,
        height, width, channels)` for a model that draws sub-pixels, else
        `(component_noise, channel_noise)`, each `(batch, height, width,
        n)` with the per-pixel distribution's `noise_shape()`.
    """
    if model.samples_subpixels:
        # One uniform per sub-pixel, turned into a value by the inverse CDF.
        return (
            tf.map_fn(
                lambda seed: tf.random.stateless_uniform(model.image_shape, seed),
                seeds,
                fn_output_signature=tf.float32,
            ),
        )
    num_params = model.output_shape[-1]
    probe = model.output_distribution(tf.zeros([1, num_params]))
    component_shape, channel_shape = probe.noise_shape()
    height, width = model.image_shape[:2]
    component_shape = [height, width, component_shape[-1]]
    channel_shape = [height, width, channel_shape[-1]]

    def draw(seed):
        component_seed, channel_seed = tf.unstack(
            tf.random.experimental.stateless_split(seed, 2)
        )
        return (
            tf.random.stateless_uniform(component_shape, component_seed),
            tf.random.stateless_uniform(channel_shape, channel_seed),
        )

    return tf.map_fn(
        draw,
        seeds,
        fn_output_signature=(tf.float32, tf.float32),
    )
