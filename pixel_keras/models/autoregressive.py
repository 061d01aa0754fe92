"""What every pixel_keras image model shares: likelihood, loss, sampling.

A model subclasses `AutoregressiveImageModel`, builds its functional graph
(images, or `{"images", "condition"}` for a conditional model, to a
`(batch, height, width, num_params)` map), sets `condition_spec`, and
defines `output_distribution`, which turns the parameters of one pixel (or
of a whole map) into a distribution over that pixel's channels, and
`build_cached_loop`, its cached sampler. Everything else follows from that.
"""

import copy
import math
import weakref

import keras
import tensorflow as tf
import tensorflow_probability as tfp
from keras import ops

from pixel_keras import sampling
from pixel_keras.conditioning import CONDITION
from pixel_keras.conditioning import ConditionSpec
from pixel_keras.pixel_values import any_invalid_pixel
from pixel_keras.pixel_values import check_pixel_values
from pixel_keras.sampling import AutoregressiveImage

tfd = tfp.distributions


def check_positive_int(name, value, minimum=1):
    """Raises a ValueError unless `value` is an int >= `minimum`."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(
            f"Expected `{name}` to be an int >= {minimum}. Received: {name}={value!r}"
        )


def check_image_arguments(image_shape, num_levels, max_levels=256):
    """Checks the arguments every model shares; returns the shape as a tuple."""
    image_shape = tuple(image_shape)
    if len(image_shape) != 3 or not all(
        isinstance(d, int) and d > 0 for d in image_shape
    ):
        raise ValueError(
            "Expected `image_shape` to be (height, width, channels) of "
            f"positive ints. Received: image_shape={image_shape}"
        )
    check_positive_int("num_levels", num_levels, minimum=2)
    if num_levels > max_levels:
        raise ValueError(
            f"Expected `num_levels` in [2, {max_levels}]. Received: num_levels={num_levels}"
        )
    return image_shape


def model_dtype_policy(dtype):
    """The `keras.DTypePolicy` a model's layers compute in.

    Args:
        dtype: the model's `dtype` argument: a policy or its name
            (`"float32"`, `"mixed_bfloat16"`, `"mixed_float16"`, ...), or
            None for Keras' global policy (`keras.config.dtype_policy()`).

    Returns:
        The policy. The network computes in its `compute_dtype`; the layer
        that outputs the likelihood's parameters computes in its
        `variable_dtype` (`head_dtype_policy`), and so does everything after
        it (the likelihood, the bits/dim, the sampling draws).
    """
    return keras.dtype_policies.get(dtype)


def head_dtype_policy(policy):
    """The policy of the layer that outputs the likelihood's parameters:
    float32 under a mixed policy. A mixture's locations in bfloat16 would be
    rounded to about half of a 256-level bin."""
    return keras.dtype_policies.get(policy.variable_dtype)


def image_inputs(image_shape, condition_spec):
    """The functional inputs, the images, and the condition vector.

    Args:
        image_shape: `(height, width, channels)`.
        condition_spec: the model's `ConditionSpec`.

    Returns:
        `(inputs, images, vector)`: the images input, or `{"images",
        "condition"}` for a conditional model; the images; and the
        `(batch, features)` condition vector (see `ConditionSpec.vector`),
        or None for an unconditional model.
    """
    images = keras.Input(shape=image_shape, name="images")
    condition = condition_spec.keras_input()
    if condition is None:
        return images, images, None
    inputs = {"images": images, CONDITION: condition}
    return inputs, images, condition_spec.vector(condition)


class _BitsPerDim(keras.losses.Loss):
    """Per-example negative log-likelihood in bits per dimension.

    A `keras.losses.Loss` so that Keras applies the batch reduction and the
    per-replica scaling that `tf.distribute` strategies need.
    """

    def __init__(self, model):
        super().__init__(name="bits_per_dim", reduction="sum_over_batch_size")
        # A weak reference: the model owns this loss, and a cycle would send
        # Keras' object tracking (saving, get_config) round in circles.
        self._model = weakref.ref(model)

    def call(self, y_true, y_pred):
        model = self._model()
        distribution = tfd.Independent(
            model.output_distribution(y_pred), reinterpreted_batch_ndims=2
        )
        num_dims = math.prod(model.image_shape)
        return -distribution.log_prob(y_true) / (num_dims * math.log(2.0))


class AutoregressiveImageModel(keras.Model):
    """Base of the pixel_keras models: a causal network and its likelihood.

    Subclasses set `presets` (name -> constructor arguments), build the
    functional graph in `__init__`, set `image_shape`, `num_levels`,
    `num_classes`, `conditional_shape` and `condition_spec`, and define
    `output_distribution(outputs, temperature)` and `build_cached_loop()`.
    `fit` then trains on the negative log-likelihood in bits per dimension.
    """

    # Preset name -> constructor arguments (plain data), for `from_preset`.
    presets = {}
    # The constructor arguments, which are the whole config: the graph is
    # rebuilt from them (as keras-hub models do), so a saved model never
    # depends on serializing the functional graph.
    config_keys = ()
    # True when a pixel's channels are drawn one at a time (R, then G given
    # R, then B), each with a pass of the network; False when the per-pixel
    # distribution draws all channels of a pixel jointly.
    samples_subpixels = False
    # True when `build_cached_loop(jit_compile=True)` gives an XLA-compiled
    # loop; `sample` and `complete` then use it by default.
    cached_loop_compiles = False
    # Subclasses set these from their arguments: at most one is not None.
    num_classes = None
    conditional_shape = None
    condition_spec = ConditionSpec()

    def __init__(self, *args, dtype=None, **kwargs):
        super().__init__(*args, **kwargs)
        # A functional model ignores `dtype` (its layers compute in theirs);
        # kept so that the config and `model.dtype_policy` say it.
        self.dtype_policy = model_dtype_policy(dtype)
        self._nll = _BitsPerDim(self)

    def __call__(self, inputs, *args, **kwargs):
        # Batches made for earlier versions name the condition "labels".
        return super().__call__(self.condition_spec.model_inputs(inputs), *args, **kwargs)

    # --- Distribution ---------------------------------------------------------

    def output_distribution(self, outputs, temperature=1.0):
        """The per-pixel distribution, event shape `(channels,)`."""
        raise NotImplementedError(
            f"{type(self).__name__} must define `output_distribution`."
        )

    def distribution(self, images, condition=None, training=False, *, labels=None):
        """The model's distribution over images given the (earlier) pixels.

        Because the network is causal, the `log_prob` of this distribution at
        `images` is the exact log-likelihood of `images` under the model.

        Args:
            images: `(batch, height, width, channels)` integer-valued images.
            condition: the condition of a conditional model: int class
                labels `(batch,)`, or float values `(batch,
                *conditional_shape)`; None for an unconditional model.
            training: Python bool, whether dropout is active.
            labels: deprecated name of `condition`.

        Returns:
            `tfd.Independent` over the per-pixel distribution, batch shape
            `(batch,)`, event shape `image_shape`.
        """
        condition = self.condition_spec.resolve(condition, labels)
        return self._distribution(self._check_images(images, "images"), condition, training)

    def _distribution(self, images, condition, training=False):
        outputs = self(self.make_inputs(images, condition), training=training)
        return tfd.Independent(
            self.output_distribution(outputs), reinterpreted_batch_ndims=2
        )

    def as_distribution(
        self,
        condition=None,
        temperature=1.0,
        method="cached",
        validate_args=False,
        name=None,
        *,
        conditional_input=None,
    ):
        """The model as a TFP distribution over whole images.

        Args:
            condition: class labels (int, any leading shape) for a
                class-conditional model, float `(..., *conditional_shape)`
                for a model with a `conditional_shape`, else None. Its
                leading shape is the distribution's batch shape.
            temperature: positive float, used by `sample`.
            method: `"cached"` or `"naive"`, the sampler `sample` uses.
            validate_args: Python bool, check values and labels.
            name: optional name of the distribution.
            conditional_input: deprecated name of `condition`.

        Returns:
            An `AutoregressiveImage` with event shape `image_shape` and int32
            values: `log_prob` is this model's likelihood, `sample` its
            sampler, and it composes with the rest of TFP.
        """
        return AutoregressiveImage(
            self,
            condition=condition,
            temperature=temperature,
            method=method,
            validate_args=validate_args,
            name=name,
            conditional_input=conditional_input,
        )

    def log_prob(self, images, condition=None, *, labels=None):
        """Log-likelihood of each image in nats, `(batch,)`.

        Args:
            images: `(batch, height, width, channels)` integer-valued images.
            condition: the condition of a conditional model (see
                `distribution`), else None.
            labels: deprecated name of `condition`.
        """
        images = tf.cast(self._check_images(images, "images"), "float32")
        condition = self.condition_spec.resolve(condition, labels)
        return self._distribution(images, condition).log_prob(images)

    def bits_per_dim(self, images, condition=None, *, labels=None):
        """Negative log-likelihood of each image in bits per dimension."""
        num_dims = math.prod(self.image_shape)
        condition = self.condition_spec.resolve(condition, labels)
        return -self.log_prob(images, condition) / (num_dims * math.log(2.0))

    # --- Inputs ---------------------------------------------------------------

    def make_inputs(self, images, condition=None):
        """The model's input structure from images and its condition: the
        images, or `{"images", "condition"}` for a conditional model."""
        images = ops.cast(images, "float32")
        condition = self.condition_spec.resolve(condition)
        if condition is None:
            return images
        return {"images": images, CONDITION: ops.cast(condition, self.condition_spec.dtype)}

    def _check_images(self, images, name):
        """`images` checked: their shape, and that they are integers in
        `[0, num_levels - 1]` (`pixel_values.check_pixel_values`: at once
        when eager, by graph assertions in a `tf.function` such as `fit`'s
        step)."""
        images = check_pixel_values(images, self.num_levels, name)
        if images.shape.rank != 4 or tuple(images.shape[1:]) != self.image_shape:
            raise ValueError(
                f"Expected `{name}` of shape (batch, {', '.join(map(str, self.image_shape))}). "
                f"Received: {name}.shape={tuple(images.shape)}"
            )
        return images

    # --- Training -------------------------------------------------------------

    def compile(self, *args, **kwargs):
        """`keras.Model.compile`, which also creates the optimizer's variables.

        Without a `tf.distribute` strategy, Keras creates them inside the
        first traced train step. Variables created during a trace make
        `tf.function` trace the step a second time, and each one is slow to
        create there (about 30 ms per variable for Adam's two moments and
        the EMA), so a small model's first `fit` took twice as long as with
        the variables made here, eagerly. The model is built when its
        constructor returns, so its trainable variables are all known; a
        strategy's scope is entered as `fit` would enter it.
        """
        super().compile(*args, **kwargs)
        if self.optimizer is not None and not self.optimizer.built and self.built:
            with self.distribute_strategy.scope():
                self.optimizer.build(self.trainable_variables)

    def compile_from_config(self, config):
        # Keras skips a `compile` that a subclass overrides when it loads a
        # `.keras` file; this one only adds the optimizer's variables, which
        # Keras' own `compile_from_config` builds too.
        self.compile(**keras.saving.deserialize_keras_object(config))

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """Negative log-likelihood in bits per dimension (plus layer losses).

        `fit` passes the batch as `x`; the images in it are the targets, so no
        `y` is needed.
        """
        images = x["images"] if isinstance(x, dict) else x
        if self.jit_compile:
            # XLA has no `Assert`: a batch of values the model cannot have
            # makes the loss NaN instead, which `training.train` stops on
            # (`keras.callbacks.TerminateOnNaN`).
            loss = self._nll(images, y_pred, sample_weight)
            invalid = any_invalid_pixel(images, self.num_levels)
            loss = tf.where(invalid, tf.constant(math.nan, loss.dtype), loss)
        else:
            # A batch of values the model cannot have fails the step here
            # (in the graph: no host round trip), rather than training on
            # them.
            images = check_pixel_values(images, self.num_levels, "images")
            loss = self._nll(images, y_pred, sample_weight)
        if self.losses:
            # Regularization losses are summed per replica, so scale them like
            # the likelihood term under a tf.distribute strategy.
            replicas = tf.distribute.get_strategy().num_replicas_in_sync
            loss = loss + ops.sum(self.losses) / replicas
        return loss

    # --- Sampling -------------------------------------------------------------

    def build_cached_loop(self, jit_compile=False, teacher_forced_rows=True):
        """The model's cached sampling loop (see `pixel_keras.sampling`);
        with `jit_compile`, compiled with XLA (where `cached_loop_compiles`).
        With `teacher_forced_rows` (for completions) the loop computes the
        rows above the first unknown pixel without draws, then starts
        there; without it (for sampling, where no pixel is known) it has no
        such pass to trace and compile."""
        raise NotImplementedError(
            f"{type(self).__name__} has no cached sampler; use method='naive'."
        )

    def sample(
        self,
        num,
        seed,
        condition=None,
        temperature=1.0,
        method="cached",
        *,
        labels=None,
        jit_compile=None,
    ):
        """Draws images from the model in raster order.

        Args:
            num: int, number of images.
            seed: int, an int32 `[2]` seed, or int32 `[num, 2]` with one seed
                per image (image `i` then depends only on `seed[i]`).
            condition: the condition of each image for a conditional model:
                int class labels `(num,)`, or float values `(num,
                *conditional_shape)`; None for an unconditional model.
            temperature: positive float, see `output_distribution`.
            method: `"cached"` (the default; each step computes only what
                the new pixel changes) or `"naive"` (the whole network for
                every pixel, the reference). Both draw the same images from
                the same seeds.
            labels: deprecated name of `condition`.
            jit_compile: whether the cached loop runs compiled by XLA; None
                (the default) where the model's loop compiles
                (`cached_loop_compiles`). Same images either way (tested).

        Returns:
            `(num, height, width, channels)` images: uint8, or int32 for a
            model with more than 256 levels.
        """
        return sampling.sample(
            self,
            num,
            seed,
            self.condition_spec.resolve(condition, labels),
            temperature=temperature,
            method=method,
            jit_compile=jit_compile,
        )

    def complete(
        self,
        images,
        known_mask,
        seed,
        condition=None,
        temperature=1.0,
        method="cached",
        *,
        labels=None,
        jit_compile=None,
    ):
        """Fills the unknown pixels of images; known pixels are kept exactly.

        Pixels are drawn in raster order, each given all earlier pixels (known
        or drawn); as in the PixelRNN paper's completions, a pixel cannot
        depend on known pixels that come after it.

        Args:
            images: `(batch, height, width, channels)` integer-valued images.
            known_mask: bool `(batch, height, width)`, True where a pixel is
                known.
            seed: as for `sample`, with `batch` in place of `num`.
            condition: as for `sample`, one per image.
            temperature: positive float.
            method: `"cached"` or `"naive"`, as for `sample`.
            labels: deprecated name of `condition`.
            jit_compile: as for `sample`.

        Returns:
            images of the same shape, of the dtype `sample` returns.
        """
        return sampling.complete(
            self,
            images,
            known_mask,
            seed,
            self.condition_spec.resolve(condition, labels),
            temperature=temperature,
            method=method,
            jit_compile=jit_compile,
        )

    @property
    def sample_dtype(self):
        """uint8, or int32 for a model with more than 256 levels."""
        return tf.uint8 if self.num_levels <= 256 else tf.int32

    # --- Config ---------------------------------------------------------------

    def get_config(self):
        config = {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": keras.dtype_policies.serialize(self.dtype_policy),
        }
        config.update({key: getattr(self, key) for key in self.config_keys})
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["image_shape"] = tuple(config["image_shape"])
        return cls(**config)

    @classmethod
    def from_preset(cls, preset, **overrides):
        """Builds a model from a named preset, with any argument overridden.

        Args:
            preset: a key of the class's `presets`.
            **overrides: constructor arguments that replace the preset's.

        Raises:
            ValueError: for an unknown preset.
        """
        if preset not in cls.presets:
            raise ValueError(
                f"Unknown {cls.__name__} preset {preset!r}. Expected one of "
                f"{sorted(cls.presets)}."
            )
        return cls(**{**copy.deepcopy(cls.presets[preset]), **overrides})
