"""Autoregressive sampling and completion for pixel_keras models.

A model is sampled one pixel at a time in raster order. All randomness is
drawn up front from one stateless seed per image, as the uniform noise that
the per-pixel distribution's `sample_from_uniforms` turns into values, so

- image `i` depends only on its own seed (not on the batch it is in), and
- any two samplers that consume the same noise give the same images.

Two loops consume that noise, each a `tf.while_loop` inside one
`tf.function` (so that they also run inside an exported SavedModel):

- `method="cached"` (the default): `pixel_keras.cached_sampling`, which at
  each step computes only what the new pixel changes;
- `method="naive"`: the whole network once per pixel, or once per sub-pixel
  for models that draw a pixel's channels one at a time
  (`model.samples_subpixels`, the PixelRNN paper's models: R, then G given
  R, then B given R and G). It is the reference the cached loops are tested
  against: both give the same images for the same seeds.

A model is anything with `image_shape`, `num_levels`, `num_classes`,
`conditional_shape`, `conditioning(labels, condition)`, `sample_dtype`,
`make_inputs(images, conditioning)`, `output_distribution(outputs,
temperature)` and a call that maps inputs to `(batch, height, width,
num_params)`; a sub-pixel model also has `channel_logits(outputs)`.
"""

import weakref

import numpy as np
import tensorflow as tf

from pixel_keras import cached_sampling
from pixel_keras.distributions import pixel_categorical

# The sampling methods: "cached" computes only what each new pixel changes
# (`pixel_keras.cached_sampling`); "naive" runs the whole network per pixel
# and is the reference the cached loops are tested against.
METHODS = ("cached", "naive")

# The traced loops of each model, by method, dropped with the model.
_LOOPS = weakref.WeakKeyDictionary()


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


def _noise_per_image(model, seeds):
    """Uniform noise for every pixel of every image, from one seed per image."""
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


def _first_unknown_pixel(known):
    """Raster index of the first pixel unknown in any image (H * W if none).

    Pixels before it are never redrawn, so the loops start there.
    """
    num_pixels = tf.shape(known)[1] * tf.shape(known)[2]
    any_unknown = tf.reduce_any(
        tf.reshape(tf.logical_not(known), [-1, num_pixels]), axis=0
    )
    return tf.where(
        tf.reduce_any(any_unknown),
        tf.argmax(tf.cast(any_unknown, tf.int32), output_type=tf.int32),
        num_pixels,
    )


def _naive_loop(model):
    """The traced per-pixel loop of `model`."""
    height, width, channels = model.image_shape

    @tf.function(reduce_retracing=True)
    def loop(images, known, labels, component_noise, channel_noise, temperature):
        num_pixels = height * width
        start = _first_unknown_pixel(known)
        positions = tf.reshape(tf.range(num_pixels), [1, height, width, 1])

        def body(index, images):
            row, col = index // width, index % width
            outputs = model(model.make_inputs(images, labels), training=False)
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


def _naive_subpixel_loop(model):
    """The traced per-sub-pixel loop of `model`."""
    height, width, channels = model.image_shape

    @tf.function(reduce_retracing=True)
    def loop(images, known, labels, noise, temperature):
        num_pixels = height * width
        start = _first_unknown_pixel(known)
        positions = tf.reshape(tf.range(num_pixels), [1, height, width, 1])
        channel_ids = tf.reshape(tf.range(channels), [1, 1, 1, channels])

        def body(index, images):
            pixel, channel = index // channels, index % channels
            row, col = pixel // width, pixel % width
            outputs = model(model.make_inputs(images, labels), training=False)
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


def _loop(model, method):
    """The traced sampling loop of `model` for `method`, built once."""
    loops = _LOOPS.setdefault(model, {})
    if method not in loops:
        if method == "cached":
            loops[method] = cached_sampling.build_loop(model)
        elif model.samples_subpixels:
            loops[method] = _naive_subpixel_loop(model)
        else:
            loops[method] = _naive_loop(model)
    return loops[method]


def check_method(method):
    """Raises a ValueError unless `method` is one of `METHODS`."""
    if method not in METHODS:
        raise ValueError(
            f"Expected `method` to be one of {METHODS}. Received: method={method!r}"
        )
    return method


def _check_temperature(temperature, num):
    """A positive scalar, or one per image: float32 `[num]`."""
    if isinstance(temperature, (int, float)) and not temperature > 0:
        raise ValueError(
            f"Expected a positive `temperature`. Received: temperature={temperature}"
        )
    temperature = tf.cast(temperature, tf.float32)
    if temperature.shape.rank not in (0, 1) or (
        temperature.shape.rank == 1 and temperature.shape[0] not in (None, num)
    ):
        raise ValueError(
            f"Expected `temperature` to be a scalar or of shape ({num},). "
            f"Received: temperature.shape={tuple(temperature.shape)}"
        )
    if tf.executing_eagerly() and not bool(tf.reduce_all(temperature > 0)):
        raise ValueError(
            f"Expected a positive `temperature`. Received: {temperature.numpy()}"
        )
    return tf.broadcast_to(temperature, [num])


def _check_conditioning(model, labels, condition, num):
    """The model's conditioning input (labels or condition), checked."""
    conditioning = model.conditioning(labels, condition)
    if conditioning is None:
        return None
    if model.num_classes is None:
        condition = tf.convert_to_tensor(conditioning, dtype_hint=tf.float32)
        if not (condition.dtype.is_floating or condition.dtype.is_integer):
            raise ValueError(
                "Expected a numeric `condition`. "
                f"Received: condition of dtype {condition.dtype.name}"
            )
        expected = (num, *model.conditional_shape)
        if tuple(condition.shape) != expected:
            raise ValueError(
                f"Expected `condition` of shape {expected}. "
                f"Received: condition.shape={tuple(condition.shape)}"
            )
        return tf.cast(condition, tf.float32)
    labels = tf.convert_to_tensor(conditioning)
    if not labels.dtype.is_integer:
        raise ValueError(
            f"Expected integer `labels`. Received: labels of dtype {labels.dtype.name}"
        )
    if labels.shape.rank != 1 or (
        labels.shape[0] is not None and labels.shape[0] != num
    ):
        raise ValueError(
            f"Expected `labels` of shape ({num},). "
            f"Received: labels.shape={tuple(labels.shape)}"
        )
    if tf.executing_eagerly():
        values = labels.numpy()
        bad = values[(values < 0) | (values >= model.num_classes)]
        if bad.size:
            raise ValueError(
                f"Expected `labels` in [0, {model.num_classes}). "
                f"Received: labels containing {bad[0]}"
            )
    return tf.cast(labels, tf.int32)


def sample(
    model, num, seed, labels=None, temperature=1.0, method="cached", condition=None
):
    """Draws `num` images from `model`, one pixel at a time.

    Args:
        model: a pixel_keras model (see the module docstring).
        num: positive int, the number of images.
        seed: int, int `[2]`, or int `[num, 2]` per-image seeds.
        labels: int `(num,)` for a class-conditional model, else None.
        temperature: positive float, or float `(num,)` (one per image),
            passed to `model.output_distribution`.
        method: `"cached"` (the default: each step computes only what the
            new pixel changes) or `"naive"` (the whole network per pixel;
            the reference). Both give the same images for the same seeds.

    Returns:
        uint8 `(num, height, width, channels)` images.
    """
    if isinstance(num, bool) or not isinstance(num, (int, np.integer)) or num < 1:
        raise ValueError(f"Expected `num` to be a positive int. Received: num={num!r}")
    num = int(num)
    images = tf.zeros([num, *model.image_shape], tf.float32)
    known = tf.zeros([num, *model.image_shape[:2]], tf.bool)
    return _run(model, images, known, seed, labels, condition, temperature, method)


def complete(
    model,
    images,
    known_mask,
    seed,
    labels=None,
    temperature=1.0,
    method="cached",
    condition=None,
):
    """Fills the unknown pixels of `images`, keeping known pixels exactly.

    Args:
        model: a pixel_keras model.
        images: `(batch, height, width, channels)` integer-valued images in
            `[0, num_levels - 1]` (the values of unknown pixels are ignored).
        known_mask: bool or 0/1 `(batch, height, width)`, True where known.
        seed: int, int `[2]`, or int `[batch, 2]` per-image seeds.
        labels: int `(batch,)` for a class-conditional model, else None.
        temperature: positive float.
        method: `"cached"` or `"naive"`, as for `sample`.
        condition: as for `sample`.

    Returns:
        images of the same shape, of `model.sample_dtype`.
    """
    images = tf.convert_to_tensor(images)
    expected = tuple(model.image_shape)
    if images.shape.rank != 4 or tuple(images.shape[1:]) != expected:
        raise ValueError(
            f"Expected `images` of shape (batch, {', '.join(map(str, expected))}). "
            f"Received: images.shape={tuple(images.shape)}"
        )
    known_mask = tf.convert_to_tensor(known_mask)
    if tuple(known_mask.shape) != tuple(images.shape[:3]):
        raise ValueError(
            f"Expected `known_mask` of shape {tuple(images.shape[:3])} "
            "(batch, height, width), matching `images`. "
            f"Received: known_mask.shape={tuple(known_mask.shape)}"
        )
    if known_mask.dtype != tf.bool:
        if not (known_mask.dtype.is_integer or known_mask.dtype.is_floating):
            raise ValueError(
                "Expected a bool or 0/1 `known_mask`. "
                f"Received: dtype {known_mask.dtype.name}"
            )
        known_mask = tf.not_equal(known_mask, 0)
    images = tf.cast(images, tf.float32)
    if tf.executing_eagerly():
        values = images.numpy()
        top = model.num_levels - 1
        if values.size and (
            values.min() < 0 or values.max() > top or np.any(values != np.round(values))
        ):
            raise ValueError(
                f"Expected `images` with integer values in [0, {top}]. "
                f"Received: values in [{values.min()}, {values.max()}]"
            )
    return _run(model, images, known_mask, seed, labels, condition, temperature, method)


def _run(model, images, known, seed, labels, condition, temperature, method):
    check_method(method)
    num = images.shape[0]
    conditioning = _check_conditioning(model, labels, condition, num)
    temperature = _check_temperature(temperature, num)
    seeds = per_image_seeds(seed, num)
    return draw(model, images, known, seeds, conditioning, temperature, method)


def draw(model, images, known, seeds, conditioning, temperature, method="cached"):
    """The sampling loop on checked tensors; traceable with an unknown batch.

    `sample` and `complete` check their arguments and call this; an exported
    serving function (which checks its requests in the graph) calls it too.

    Args:
        model: a pixel_keras model.
        images: float32 `(batch, height, width, channels)`, the known values.
        known: bool `(batch, height, width)`.
        seeds: int32 `(batch, 2)`, one stateless seed per image.
        conditioning: the model's conditioning input: int32 labels
            `(batch,)`, float32 `(batch, *conditional_shape)`, or None.
        temperature: float32 `(batch,)`.
        method: `"cached"` or `"naive"`.

    Returns:
        uint8 images.
    """
    noise = _noise_per_image(model, seeds)
    loop = _loop(model, check_method(method))
    return loop(images, known, conditioning, *noise, temperature)
