"""What every pixel_keras image model shares: likelihood, loss, sampling.

A model subclasses `AutoregressiveImageModel`, builds its functional graph
(images, or `{"images", "labels"}` for a class-conditional model, to a
`(batch, height, width, num_params)` map) and defines `output_distribution`,
which turns the parameters of one pixel (or of a whole map) into a
distribution over that pixel's channels. Everything else follows from that.
"""

import math
import weakref

import keras
import tensorflow as tf
import tensorflow_probability as tfp
from keras import ops

from pixel_keras import sampling
from pixel_keras.distributions import AutoregressiveImage
from pixel_keras.models import presets as presets_lib

tfd = tfp.distributions


def check_positive_int(name, value, minimum=1):
    """Raises a ValueError unless `value` is an int >= `minimum`."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(
            f"Expected `{name}` to be an int >= {minimum}. Received: {name}={value!r}"
        )


def check_image_arguments(image_shape, num_levels, num_classes, max_levels=256):
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
    if num_classes is not None:
        check_positive_int("num_classes", num_classes, minimum=2)
    return image_shape


def check_conditional_shape(conditional_shape, num_classes):
    """Checks a model's `conditional_shape`; returns it as a tuple, or None."""
    if conditional_shape is None:
        return None
    if num_classes is not None:
        raise ValueError(
            "Pass `num_classes` (class labels) or `conditional_shape` (any "
            "conditioning values), not both. Received: "
            f"num_classes={num_classes}, conditional_shape={conditional_shape}"
        )
    conditional_shape = tuple(conditional_shape)
    if not conditional_shape or not all(
        isinstance(d, int) and not isinstance(d, bool) and d > 0
        for d in conditional_shape
    ):
        raise ValueError(
            "Expected `conditional_shape` to be a non-empty tuple of positive "
            f"ints. Received: conditional_shape={conditional_shape}"
        )
    return conditional_shape


def image_inputs(image_shape, num_classes, conditional_shape=None):
    """The functional inputs, the images, and the conditioning vector.

    The conditioning vector, `(batch, features)`, is the one-hot class label
    (`num_classes`), the flattened conditioning input (`conditional_shape`),
    or None for an unconditional model.
    """
    images = keras.Input(shape=image_shape, name="images")
    if num_classes is not None:
        labels = keras.Input(shape=(), dtype="int32", name="labels")
        return (
            {"images": images, "labels": labels},
            images,
            ops.one_hot(labels, num_classes),
        )
    if conditional_shape is not None:
        condition = keras.Input(shape=conditional_shape, name="condition")
        vector = ops.reshape(condition, (-1, math.prod(conditional_shape)))
        return {"images": images, "condition": condition}, images, vector
    return images, images, None


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

    Subclasses set `preset_family` (a key of `presets.PRESETS`), build the
    functional graph in `__init__`, set `image_shape`, `num_levels` and
    `num_classes`, and define `output_distribution(outputs, temperature)`.
    `fit` then trains on the negative log-likelihood in bits per dimension.
    """

    preset_family = None
    # The constructor arguments, which are the whole config: the graph is
    # rebuilt from them (as keras-hub models do), so a saved model never
    # depends on serializing the functional graph.
    config_keys = ()
    # True when a pixel's channels are drawn one at a time (R, then G given
    # R, then B), each with a pass of the network; False when the per-pixel
    # distribution draws all channels of a pixel jointly.
    samples_subpixels = False
    # Subclasses set these from their arguments: at most one is not None.
    num_classes = None
    conditional_shape = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._nll = _BitsPerDim(self)

    # --- Distribution ---------------------------------------------------------

    def output_distribution(self, outputs, temperature=1.0):
        """The per-pixel distribution, event shape `(channels,)`."""
        raise NotImplementedError(
            f"{type(self).__name__} must define `output_distribution`."
        )

    def distribution(self, images, labels=None, training=False, condition=None):
        """The model's distribution over images given the (earlier) pixels.

        Because the network is causal, the `log_prob` of this distribution at
        `images` is the exact log-likelihood of `images` under the model.

        Args:
            images: `(batch, height, width, channels)` integer-valued images.
            labels: int `(batch,)` class labels for a class-conditional model.
            training: Python bool, whether dropout is active.
            condition: float `(batch, *conditional_shape)` for a model with a
                `conditional_shape`.

        Returns:
            `tfd.Independent` over the per-pixel distribution, batch shape
            `(batch,)`, event shape `image_shape`.
        """
        conditioning = self.conditioning(labels, condition)
        outputs = self(self.make_inputs(images, conditioning), training=training)
        return tfd.Independent(
            self.output_distribution(outputs), reinterpreted_batch_ndims=2
        )

    def as_distribution(
        self,
        conditional_input=None,
        temperature=1.0,
        method="cached",
        validate_args=False,
        name=None,
    ):
        """The model as a TFP distribution over whole images.

        Args:
            conditional_input: class labels (int, any leading shape) for a
                class-conditional model, float `(..., *conditional_shape)`
                for a model with a `conditional_shape`, else None. Its
                leading shape is the distribution's batch shape.
            temperature: positive float, used by `sample`.
            method: `"cached"` or `"naive"`, the sampler `sample` uses.
            validate_args: Python bool, check values and labels.
            name: optional name of the distribution.

        Returns:
            An `AutoregressiveImage` with event shape `image_shape` and int32
            values: `log_prob` is this model's likelihood, `sample` its
            sampler, and it composes with the rest of TFP.
        """
        return AutoregressiveImage(
            self,
            conditional_input=conditional_input,
            temperature=temperature,
            method=method,
            validate_args=validate_args,
            name=name,
        )

    def log_prob(self, images, labels=None, condition=None):
        """Log-likelihood of each image in nats, `(batch,)`."""
        images = tf.cast(self._check_images(images, "images"), "float32")
        return self.distribution(images, labels, condition=condition).log_prob(images)

    def bits_per_dim(self, images, labels=None, condition=None):
        """Negative log-likelihood of each image in bits per dimension."""
        num_dims = math.prod(self.image_shape)
        return -self.log_prob(images, labels, condition) / (num_dims * math.log(2.0))

    # --- Inputs ---------------------------------------------------------------

    def conditioning(self, labels=None, condition=None):
        """The one conditioning input this model takes, or None.

        A class-conditional model (`num_classes`) takes `labels`; a model with
        a `conditional_shape` takes `condition`; an unconditional model takes
        neither.

        Raises:
            ValueError: if the wrong one (or none) is given.
        """
        if self.num_classes is not None:
            if condition is not None or labels is None:
                raise ValueError(
                    f"This model is class-conditional (num_classes={self.num_classes}); "
                    "pass `labels`, int of shape (batch,), and no `condition`."
                )
            return labels
        if self.conditional_shape is not None:
            if labels is not None or condition is None:
                raise ValueError(
                    "This model is conditioned on values of shape "
                    f"{self.conditional_shape}; pass `condition`, float of shape "
                    f"(batch, {', '.join(map(str, self.conditional_shape))}), "
                    "and no `labels`."
                )
            return condition
        if labels is not None or condition is not None:
            raise ValueError(
                "This model is not class-conditional nor conditioned on values "
                "(num_classes=None, conditional_shape=None); do not pass "
                "`labels` or `condition`."
            )
        return None

    def make_inputs(self, images, conditioning=None):
        """The model's input structure from images and its conditioning input
        (class labels or condition values, as `conditioning` returns)."""
        images = ops.cast(images, "float32")
        if conditioning is None:
            if self.num_classes is not None or self.conditional_shape is not None:
                self.conditioning()  # Raises with the expected input.
            return images
        if self.num_classes is not None:
            return {"images": images, "labels": ops.cast(conditioning, "int32")}
        if self.conditional_shape is not None:
            return {"images": images, "condition": ops.cast(conditioning, "float32")}
        self.conditioning(labels=conditioning)  # Raises: unconditional.

    def condition_vector(self, conditioning):
        """The `(batch, features)` vector every block is conditioned on: the
        one-hot label or the flattened condition (None when unconditional)."""
        if conditioning is None:
            return None
        if self.num_classes is not None:
            return tf.one_hot(tf.cast(conditioning, tf.int32), self.num_classes)
        return tf.reshape(
            tf.cast(conditioning, tf.float32), [-1, math.prod(self.conditional_shape)]
        )

    def _check_images(self, images, name):
        images = tf.convert_to_tensor(images)
        if images.shape.rank != 4 or tuple(images.shape[1:]) != self.image_shape:
            raise ValueError(
                f"Expected `{name}` of shape (batch, {', '.join(map(str, self.image_shape))}). "
                f"Received: {name}.shape={tuple(images.shape)}"
            )
        return images

    # --- Training -------------------------------------------------------------

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """Negative log-likelihood in bits per dimension (plus layer losses).

        `fit` passes the batch as `x`; the images in it are the targets, so no
        `y` is needed.
        """
        images = x["images"] if isinstance(x, dict) else x
        loss = self._nll(images, y_pred, sample_weight)
        if self.losses:
            # Regularization losses are summed per replica, so scale them like
            # the likelihood term under a tf.distribute strategy.
            replicas = tf.distribute.get_strategy().num_replicas_in_sync
            loss = loss + ops.sum(self.losses) / replicas
        return loss

    # --- Sampling -------------------------------------------------------------

    def sample(
        self, num, seed, labels=None, temperature=1.0, method="cached", condition=None
    ):
        """Draws images from the model in raster order.

        Args:
            num: int, number of images.
            seed: int, an int32 `[2]` seed, or int32 `[num, 2]` with one seed
                per image (image `i` then depends only on `seed[i]`).
            labels: int `(num,)` class labels for a class-conditional model.
            temperature: positive float, see `output_distribution`.
            method: `"cached"` (the default; each step computes only what
                the new pixel changes) or `"naive"` (the whole network for
                every pixel, the reference). Both draw the same images from
                the same seeds.
            condition: float `(num, *conditional_shape)` for a model with a
                `conditional_shape`.

        Returns:
            `(num, height, width, channels)` images: uint8, or int32 for a
            model with more than 256 levels.
        """
        return sampling.sample(
            self,
            num,
            seed,
            labels=labels,
            temperature=temperature,
            method=method,
            condition=condition,
        )

    def complete(
        self,
        images,
        known_mask,
        seed,
        labels=None,
        temperature=1.0,
        method="cached",
        condition=None,
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
            labels: int `(batch,)` for a class-conditional model.
            temperature: positive float.
            method: `"cached"` or `"naive"`, as for `sample`.
            condition: as for `sample`.

        Returns:
            images of the same shape, of the dtype `sample` returns.
        """
        return sampling.complete(
            self,
            images,
            known_mask,
            seed,
            labels=labels,
            temperature=temperature,
            method=method,
            condition=condition,
        )

    @property
    def sample_dtype(self):
        """uint8, or int32 for a model with more than 256 levels."""
        return tf.uint8 if self.num_levels <= 256 else tf.int32

    # --- Config ---------------------------------------------------------------

    def get_config(self):
        config = {"name": self.name, "trainable": self.trainable}
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
            preset: a preset name of this model family (see
                `presets.PRESETS`).
            **overrides: constructor arguments that replace the preset's.
        """
        return cls(**presets_lib.preset_config(cls.preset_family, preset, **overrides))
