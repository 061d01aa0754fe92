"""A pixel_keras model as a TFP distribution over whole images."""

import warnings

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from pixel_keras.conditioning import CONDITION
from pixel_keras.pixel_values import pixel_value_assertions
from pixel_keras.sampling import arguments
from pixel_keras.sampling import sampler

tfd = tfp.distributions


class AutoregressiveImage(tfd.Distribution):
    """The joint distribution over whole images that a pixel_keras model defines.

    Wraps a trained model (`PixelCNNPlusPlus`, `PixelCNN`, `PixelRNN`) so that
    it can be used wherever TFP takes a distribution: as a prior, as one node
    of a `tfd.JointDistributionCoroutine` or `JointDistributionSequential`,
    under `tfd.Sample` or `tfd.Independent`, or as the likelihood in a
    larger model's loss. The per-pixel distributions
    (`DiscretizedLogisticMixture`, the per-sub-pixel categoricals) are what
    the model outputs; this is their product in raster order, the model's
    likelihood of an image.

    - `log_prob` runs the network once over the images (the same pass as
      `model.log_prob` and the training loss), and is differentiable with
      respect to the model's weights.
    - `sample` runs the model's sampler (`method="cached"` by default) from
      stateless seeds: `sample(n, seed=s)` with an int32 `[2]` seed `s` draws
      the images that `model.sample(n, seed=s)` draws (image `k` of the
      flattened `[n, *batch_shape]` batch uses seed `k` of
      `tf.random.experimental.stateless_split(s, n * batch_size)`).
    - The batch shape is that of the condition: the leading dimensions of
      `condition` (class labels `[...]`, or `[..., *conditional_shape]` for
      a model conditioned on vectors or maps), or `[]` for an unconditional
      model.

    Values are int32 images `[..., height, width, channels]` with integer
    values in `[0, num_levels - 1]`; `log_prob` also accepts integer-valued
    floats.

    Args:
        model: a built pixel_keras model.
        condition: the condition of a conditional model (int class labels,
            or float values of the model's `conditional_shape` with leading
            batch dimensions); None for an unconditional model.
        temperature: a finite number > 0 (or a scalar tensor) used by
            `sample` (not by `log_prob`).
        method: `"cached"` or `"naive"`, the sampler `sample` uses.
        validate_args: Python bool; when True, values passed to `log_prob`
            are checked (integer, in range) and so is the condition (labels
            in range, values finite).
        allow_nan_stats: Python bool, as for every TFP distribution.
        name: Python str, the name of the distribution.
        conditional_input: deprecated name of `condition`.

    `sample(sample_shape)` follows TFP: `sample_shape` is a non-negative int
    or a list of them, and one with a 0 (`0`, `[0, 2]`) gives an empty
    sample of shape `sample_shape + batch_shape + event_shape`; a negative
    or non-integer one is a `ValueError` naming `sample_shape`.

    Example:

    ```python
    prior = model.as_distribution()
    prior.log_prob(images)            # (batch,), nats
    prior.sample(4, seed=[1, 2])      # int32 (4, H, W, C)

    @tfd.JointDistributionCoroutineAutoBatched
    def joint():
        label = yield tfd.Categorical(logits=tf.zeros(10), name="label")
        yield model.as_distribution(label, name="image")
    ```
    """

    def __init__(
        self,
        model,
        condition=None,
        temperature=1.0,
        method="cached",
        validate_args=False,
        allow_nan_stats=True,
        name=None,
        *,
        conditional_input=None,
    ):
        spec = model.condition_spec
        condition = spec.resolve(condition, conditional_input, "conditional_input")
        parameters = dict(locals())
        # TFP rebuilds a distribution from its parameters (slicing, copy):
        # the condition under its one name only.
        for key in ("spec", "conditional_input"):
            parameters.pop(key)
        parameters["condition"] = condition
        sampler.check_method(method)
        # Checked when built rather than at the first `sample` (which checks
        # it again: a variable may have changed). Kept as given, since TFP
        # rebuilds the distribution from `parameters`.
        arguments.check_temperature(temperature)
        self._model = model
        self._method = method
        self._temperature = temperature
        self._condition_shape = spec.event_shape
        with tf.name_scope(name or f"{model.name}_image") as scope:
            if condition is not None:
                # Values known now (eagerly) are checked now, whatever
                # `validate_args` says: a label out of range would draw from
                # an all-zero one-hot, silently. A traced condition is
                # checked under `validate_args`, as TFP does.
                condition = spec.check(condition, leading_dims=True)
            self._condition = condition
            super().__init__(
                dtype=tf.int32,
                reparameterization_type=tfd.NOT_REPARAMETERIZED,
                validate_args=validate_args,
                allow_nan_stats=allow_nan_stats,
                parameters=parameters,
                name=scope.rstrip("/"),
            )

    @classmethod
    def _parameter_properties(cls, dtype, num_classes=None):
        return dict(
            condition=tfp.util.ParameterProperties(
                event_ndims=lambda self: len(self._condition_shape or ()),
                is_preferred=False,
            )
        )

    @property
    def model(self):
        """The wrapped pixel_keras model."""
        return self._model

    @property
    def condition(self):
        """The condition, or None."""
        return self._condition

    @property
    def conditional_input(self):
        """Deprecated name of `condition`."""
        warnings.warn(
            "`conditional_input` is deprecated; use `condition`.",
            DeprecationWarning,
            stacklevel=2,
        )
        return self._condition

    @property
    def temperature(self):
        return self._temperature

    @property
    def method(self):
        return self._method

    # --- Shapes ---------------------------------------------------------------

    def _event_shape(self):
        return tf.TensorShape(self._model.image_shape)

    def _event_shape_tensor(self):
        return tf.constant(self._model.image_shape, tf.int32)

    def _batch_shape(self):
        if self._condition is None:
            return tf.TensorShape([])
        shape = self._condition.shape
        return shape[: shape.rank - len(self._condition_shape)]

    def _batch_shape_tensor(self):
        if self._condition is None:
            return tf.constant([], tf.int32)
        shape = tf.shape(self._condition)
        return shape[: tf.size(shape) - len(self._condition_shape)]

    # --- Likelihood -------------------------------------------------------------

    def _flat_condition(self, leading_shape):
        """The condition broadcast to `leading_shape` and flattened."""
        if self._condition is None:
            return None
        event = tf.constant(self._condition_shape, tf.int32)
        condition = tf.broadcast_to(
            self._condition, tf.concat([leading_shape, event], axis=0)
        )
        return tf.reshape(condition, tf.concat([[-1], event], axis=0))

    def _log_prob(self, x):
        images = tf.cast(x, tf.float32)
        _check_event_shape(self._model, images)
        leading = tf.broadcast_dynamic_shape(
            tf.shape(images)[:-3], self.batch_shape_tensor()
        )
        if images.shape.rank is not None and self.batch_shape.rank is not None:
            static = tf.broadcast_static_shape(images.shape[:-3], self.batch_shape)
            if static.num_elements() == 0:
                # No image to score (an empty sample); the network would run
                # on a batch of none, which some of its layers refuse.
                return tf.zeros(static, tf.float32)
        event = tf.constant(self._model.image_shape, tf.int32)
        images = tf.broadcast_to(images, tf.concat([leading, event], axis=0))
        images = tf.reshape(images, tf.concat([[-1], event], axis=0))
        distribution = self._model.distribution(images, self._flat_condition(leading))
        return tf.reshape(distribution.log_prob(images), leading)

    def log_prob(self, value, name="log_prob", **kwargs):
        # TFP converts a NumPy value to the event dtype (int32) before any
        # check, which would turn 1.5 into 1 and NaN into -2**31: keep the
        # given dtype, so that the checks see the values as given.
        if not isinstance(value, (tf.Tensor, tf.Variable)):
            value = tf.convert_to_tensor(np.asarray(value))
        return super().log_prob(value, name=name, **kwargs)

    def sample(self, sample_shape=(), seed=None, name="sample", **kwargs):
        # TFP casts `sample_shape` to int32 (2.5 becomes 2) and fails on a
        # negative one deep inside a `Fill`: check it first.
        return super().sample(
            arguments.check_sample_shape(sample_shape), seed=seed, name=name, **kwargs
        )

    def experimental_sample_and_log_prob(
        self, sample_shape=(), seed=None, name="sample_and_log_prob", **kwargs
    ):
        return super().experimental_sample_and_log_prob(
            arguments.check_sample_shape(sample_shape), seed=seed, name=name, **kwargs
        )

    def _sample_control_dependencies(self, x):
        x = tf.convert_to_tensor(x)
        _check_event_shape(self._model, x)
        if not self.validate_args:
            return []
        return pixel_value_assertions(x, self._model.num_levels, name="value")

    def _parameter_control_dependencies(self, is_init):
        if not (self.validate_args and is_init) or self._condition is None:
            return []
        return self._model.condition_spec.assertions(
            self._condition, name=CONDITION, check_shape=False
        )

    # --- Sampling -------------------------------------------------------------

    def _sample_n(self, n, seed=None):
        seed = tfp.random.sanitize_seed(seed)
        batch_shape = self.batch_shape_tensor()
        leading = tf.concat([[n], batch_shape], axis=0)
        batch_sizes = self.batch_shape.as_list() if self.batch_shape.rank is not None else []
        if tf.get_static_value(n) == 0 or 0 in batch_sizes:
            # No image to draw: the loops take at least one.
            return tf.zeros(
                tf.concat([leading, tf.constant(self._model.image_shape, tf.int32)], 0),
                tf.int32,
            )
        total = tf.reduce_prod(leading)
        shape = tf.concat([[total], tf.constant(self._model.image_shape, tf.int32)], 0)
        images = sampler.draw(
            self._model,
            tf.zeros(shape, tf.float32),
            tf.zeros(shape[:3], tf.bool),
            tf.random.experimental.stateless_split(seed, total),
            self._flat_condition(leading),
            tf.fill([total], arguments.check_temperature(self._temperature)),
            self._method,
            teacher_forced_rows=False,
        )
        return tf.reshape(
            tf.cast(images, tf.int32),
            tf.concat([leading, tf.constant(self._model.image_shape, tf.int32)], 0),
        )


def _check_event_shape(model, x):
    if x.shape.rank is None:
        return
    shape = tuple(x.shape)
    expected = tuple(model.image_shape)
    if len(shape) < 3 or any(
        size is not None and size != want for size, want in zip(shape[-3:], expected)
    ):
        raise ValueError(
            f"Expected images of shape [..., {', '.join(map(str, expected))}]. "
            f"Received: shape {shape}"
        )

