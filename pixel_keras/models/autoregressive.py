"""What every pixel_keras image model shares: likelihood, loss, sampling.

A model subclasses `AutoregressiveImageModel`, builds its functional graph
(images, or `{"images", "condition"}` for a conditional model, to a
`(batch, height, width, num_params)` map), sets `condition_spec`, and
defines `output_distribution`, which turns the parameters of one pixel (or
of a whole map) into a distribution over that pixel's channels, and
names its cached sampler's `build_loop` in `cached_loop_builder` (or
overrides `build_cached_loop`). Everything else follows from that.
"""

import copy
import difflib
import inspect
import math
import weakref

import keras
import tensorflow as tf
import tensorflow_probability as tfp
from keras import ops

from pixel_keras import optimizers
from pixel_keras import recipes
from pixel_keras import sampling
from pixel_keras.conditioning import CONDITION
from pixel_keras.conditioning import ConditionSpec
from pixel_keras.graph_checks import passed_only_if
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


# What a model's constructor passes on to `keras.Model`, besides its own
# arguments (`get_config` writes them).
_BASE_KEYWORD_ARGUMENTS = ("name", "trainable", "dtype")


def check_keyword_arguments(cls, kwargs):
    """Raises a TypeError naming any keyword `cls`'s constructor does not
    take, with the closest one it does.

    Args:
        cls: a model class; its constructor's named parameters and
            `keras.Model`'s `name`, `trainable` and `dtype` are accepted.
        kwargs: the keyword arguments of a call.
    """
    parameters = inspect.signature(cls.__init__).parameters
    known = [
        name
        for name, parameter in parameters.items()
        if name != "self" and parameter.kind is not inspect.Parameter.VAR_KEYWORD
    ]
    known += [name for name in _BASE_KEYWORD_ARGUMENTS if name not in known]
    unknown = [key for key in kwargs if key not in known]
    if not unknown:
        return
    hints = []
    for key in unknown:
        close = difflib.get_close_matches(key, known, n=1)
        hints.append(f"`{key}`" + (f" (did you mean `{close[0]}`?)" if close else ""))
    raise TypeError(
        f"{cls.__name__} got unexpected keyword argument(s): {', '.join(hints)}. "
        f"Expected some of: {', '.join(sorted(known))}."
    )


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


def condition_map_factors(image_shape, conditional_shape):
    """How a condition of `conditional_shape` reaches the network.

    Returns:
        `(rows, cols)`, the factors by which a spatial condition map
        `(h, w, c)` is upsampled to the image, or None for a vector (any
        shape of another rank, flattened) or no condition.

    Raises:
        ValueError: for an `(h, w, c)` shape whose `h` and `w` do not divide
            the image's height and width.
    """
    if conditional_shape is None or len(conditional_shape) != 3:
        return None
    height, width = image_shape[:2]
    rows, cols, _ = conditional_shape
    if height % rows or width % cols:
        raise ValueError(
            "A `conditional_shape` of rank 3 (h, w, c) is a spatial condition map, "
            "upsampled to the image: h and w must divide the image's height and "
            f"width ({height}, {width}). Received: conditional_shape={conditional_shape}"
        )
    return height // rows, width // cols


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
    `output_distribution(outputs, temperature)` and `cached_loop_builder`
    (or `build_cached_loop()`). `fit` then trains on the negative log-likelihood in bits per dimension.
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
    # The family's name in `pixel_keras.recipes` (`"<family>/digits"` is
    # the recipe `compile()` takes its optimizer from); None for none.
    recipe_family = None
    # Subclasses set these from their arguments: at most one is not None.
    num_classes = None
    conditional_shape = None
    condition_spec = ConditionSpec()

    def __new__(cls, *args, **kwargs):
        # Before the constructor builds anything: a misspelled argument
        # would otherwise reach `keras.Model`, which ignores it.
        check_keyword_arguments(cls, kwargs)
        return super().__new__(cls, *args, **kwargs)

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
        images = self._check_images(images, "images")
        condition = self.condition_spec.checked(
            self.condition_spec.resolve(condition, labels), _batch_size(images)
        )
        return self._distribution(images, condition, training)

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
        condition = self.condition_spec.checked(
            self.condition_spec.resolve(condition, labels), _batch_size(images)
        )
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
        """`images` checked: a numeric dtype, the shape `(batch,
        *image_shape)`, and integers in `[0, num_levels - 1]`
        (`pixel_values.check_pixel_values`). Eagerly it raises at once; in a
        `tf.function` (such as `fit`'s step) a shape known when traced is
        checked then, and what is known only at run time by graph
        assertions that whatever uses the returned images waits for."""
        images = check_pixel_values(images, self.num_levels, name)
        self._check_static_image_shape(images.shape, name)
        if tf.executing_eagerly() or images.shape.is_fully_defined() or (
            images.shape.rank is not None and images.shape[1:].is_fully_defined()
        ):
            return images
        images = passed_only_if(
            self._image_shape_matches(images),
            images,
            [
                f"{self._expected_image_shape(name)}, the shape the model was built "
                f"for. Received: {name}.shape=",
                tf.shape(images),
            ],
        )
        # The shape, once checked, is known to what follows (a trace relaxed
        # to an unknown rank could not build the network).
        images.set_shape((None, *self.image_shape))
        return images

    def _image_shape_matches(self, images):
        """A scalar bool tensor: whether `images` has the shape `(batch,
        *image_shape)`, whatever its rank."""
        shape = tf.shape(images)
        expected = tf.constant(self.image_shape, tf.int32)
        return tf.cond(
            tf.equal(tf.size(shape), 4),
            lambda: tf.reduce_all(tf.equal(shape[1:], expected)),
            lambda: tf.constant(False),
        )

    def _expected_image_shape(self, name):
        return f"Expected `{name}` of shape (batch, {', '.join(map(str, self.image_shape))})"

    def _check_static_image_shape(self, shape, name):
        """Raises a ValueError when the known part of `shape` is not
        `(batch, *image_shape)`."""
        if shape.rank is None:
            return
        received = f"Received: {name}.shape={tuple(shape)}"
        if shape.rank != 4:
            hint = ""
            if shape.rank == 3 and self.image_shape[-1] == 1 and all(
                d in (None, e) for d, e in zip(shape[1:], self.image_shape[:2])
            ):
                hint = "; add the channel axis (e.g. images[..., None])"
            raise ValueError(f"{self._expected_image_shape(name)}. {received}{hint}")
        if any(d is not None and d != e for d, e in zip(shape[1:], self.image_shape)):
            raise ValueError(
                f"{self._expected_image_shape(name)}, the shape the model was built "
                f"for. {received}"
            )

    def _split_inputs(self, x):
        """`(images, condition)` of a batch of model inputs (the images, or
        `{"images", "condition"}`), or a ValueError naming what is missing."""
        spec = self.condition_spec
        x = spec.model_inputs(x)
        if isinstance(x, dict):
            expected = {"images", CONDITION} if spec.is_conditional else {"images"}
            if set(x) != expected:
                raise ValueError(
                    f"Expected the model's inputs to be a dict with keys {sorted(expected)}"
                    f"{'' if spec.is_conditional else ' (or the images alone)'}. "
                    f"Received keys: {sorted(x)}"
                )
            return x["images"], x.get(CONDITION)
        if spec.is_conditional:
            raise ValueError(
                f"This model is conditional: its inputs are a dict "
                f'{{"images", "{CONDITION}"}} with {spec.describe()}. Received: '
                f"images alone ({type(x).__name__})"
            )
        return x, None

    def check_inputs(self, x):
        """A batch of the model's inputs, checked before anything uses it.

        Every train, test and predict step calls it first (so `fit`,
        `evaluate`, `predict`, `training.evaluate` and the multi-worker
        loop), and so a refused batch changes no weight and no optimizer
        slot: the images' dtype, their shape against `image_shape`, their
        values (integers in `[0, num_levels - 1]`), and the condition
        against `condition_spec` (`ConditionSpec.checked`), with one row per
        image.

        Args:
            x: the images, or `{"images", "condition"}` for a conditional
                model.

        Returns:
            `x` with the images as float32 and the condition in its dtype,
            behind graph assertions when traced.

        Raises:
            ValueError: eagerly, or when a shape or dtype is wrong at trace
                time, naming the input, what was received and what was
                expected. In a graph, a value or a shape known only at run
                time fails the step with an `InvalidArgumentError` carrying
                the same message.
        """
        images, condition = self._split_inputs(x)
        images = self._check_images(images, "images")
        condition = self.condition_spec.checked(condition, _batch_size(images))
        return self.make_inputs(images, condition)

    def _any_invalid_input(self, x):
        """A scalar bool tensor, whether a batch is one that `check_inputs`
        refuses; for XLA, which has no `Assert`. Shapes and dtypes known
        when traced are still refused then, by name."""
        images, condition = self._split_inputs(x)
        images = tf.convert_to_tensor(images)
        self._check_static_image_shape(images.shape, "images")
        wrong_shape = tf.logical_not(self._image_shape_matches(images))
        invalid = wrong_shape | any_invalid_pixel(images, self.num_levels)
        return invalid | self.condition_spec.any_invalid(condition, _batch_size(images))

    # --- Training -------------------------------------------------------------

    def recommended_optimizer(self):
        """The optimizer `main.py` trains this family with: its digits
        recipe's (`pixel_keras.recipes`) optimizer, learning rate, per-step
        decay and EMA momentum; `make_optimizer()`'s defaults for a model
        with no recipe."""
        name = recipes.default_name(self.recipe_family) if self.recipe_family else None
        if name not in recipes.RECIPES:
            return optimizers.make_optimizer()
        return optimizers.recipe_optimizer(recipes.get(name))

    def compile(self, optimizer=None, *args, **kwargs):
        """`keras.Model.compile`, which also creates the optimizer's variables.

        With no `optimizer` the model takes its family's recommended one
        (`recommended_optimizer`), as keras-hub's task models do: what
        `main.py` trains with, EMA weights included where the recipe keeps
        them (`fit` then leaves the model holding the averages, which
        evaluation, sampling and export use). Keras' own default, RMSProp
        at 1e-3 without decay, learns these models worse.

        Without a `tf.distribute` strategy, Keras creates them inside the
        first traced train step. Variables created during a trace make
        `tf.function` trace the step a second time, and each one is slow to
        create there (about 30 ms per variable for Adam's two moments and
        the EMA), so a small model's first `fit` took twice as long as with
        the variables made here, eagerly. The model is built when its
        constructor returns, so its trainable variables are all known; a
        strategy's scope is entered as `fit` would enter it.
        """
        if optimizer is None:
            optimizer = self.recommended_optimizer()
        super().compile(optimizer, *args, **kwargs)
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
        `y` is needed. The steps check the batch (`check_inputs`) before
        they call it.
        """
        images = x["images"] if isinstance(x, dict) else x
        loss = self._nll(images, y_pred, sample_weight)
        if self.losses:
            # Regularization losses are summed per replica, so scale them like
            # the likelihood term under a tf.distribute strategy.
            replicas = tf.distribute.get_strategy().num_replicas_in_sync
            loss = loss + ops.sum(self.losses) / replicas
        return loss

    def make_train_function(self, force=False):
        super().make_train_function(force)
        self.train_function = self._refusing_ill_shaped_data(self.train_function)
        return self.train_function

    def make_test_function(self, force=False):
        super().make_test_function(force)
        self.test_function = self._refusing_ill_shaped_data(self.test_function)
        return self.test_function

    def make_predict_function(self, force=False):
        super().make_predict_function(force)
        self.predict_function = self._refusing_ill_shaped_data(self.predict_function)
        return self.predict_function

    def _refusing_ill_shaped_data(self, function):
        """`function` (Keras' train, test or predict function, which takes an
        iterator) checking the shapes its data will have before each call.

        Keras traces its step with `reduce_retracing`: once a `fit` has seen
        two shapes, the step is traced with the dimensions that differed
        left unknown, and then checks in the step can only run on the values
        (`check_inputs`), where TensorFlow's own shape errors may come
        first. The iterator's `element_spec` says the shapes in Python, so
        a batch of another image shape or rank is refused by name here,
        before any step runs.
        """
        if function is None or getattr(function, "_checks_element_spec", False):
            return function

        def checked(iterator):
            spec = getattr(iterator, "element_spec", None)
            if spec is not None:
                self._check_static_inputs(spec)
            return function(iterator)

        checked._checks_element_spec = True
        return checked

    def _check_static_inputs(self, element_spec):
        """Raises a ValueError for data specs whose known shapes or dtypes
        the model cannot take (`check_inputs` checks the rest)."""
        x, _, _ = keras.utils.unpack_x_y_sample_weight(element_spec)
        images, condition = self._split_inputs(x)
        if isinstance(images, tf.TensorSpec):
            self._check_static_image_shape(images.shape, "images")
            if images.dtype == tf.string:
                raise ValueError(
                    f"Expected `images` of a numeric dtype. Received: images of dtype "
                    f"{images.dtype.name}"
                )
        if isinstance(condition, tf.TensorSpec):
            batch = images.shape[0] if isinstance(images, tf.TensorSpec) else None
            self.condition_spec.check_spec(condition, batch=batch)

    def train_step(self, data):
        """Keras' train step, on a batch checked first (`check_inputs`).

        A refused batch changes nothing: no weight, no optimizer slot, not
        the step count. Uncompiled, the check's error ends the step before
        any update. Compiled with XLA, which has no `Assert`, a refused
        batch (a value, or a shape known only at run time) skips the
        optimizer's update and makes the loss NaN, which
        `keras.callbacks.TerminateOnNaN` (added by `training.train`) stops
        on.
        """
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        if not self.jit_compile:
            x = self.check_inputs(x)
            # Every update waits for the checks, also those that do not read
            # the batch (the optimizer's step count).
            with tf.control_dependencies(keras.tree.flatten(x)):
                return super().train_step(
                    keras.utils.pack_x_y_sample_weight(x, y, sample_weight)
                )
        invalid = self._any_invalid_input(x)
        x = self.make_inputs(*self._split_inputs(x))
        with tf.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self._compute_loss(
                x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=True
            )
            loss = tf.where(invalid, tf.constant(math.nan, loss.dtype), loss)
            self._track_loss(loss, x)
            loss = self.optimizer.scale_loss(loss)
        variables = self.trainable_weights
        gradients = tape.gradient(loss, variables)

        def update():
            self.optimizer.apply_gradients(zip(gradients, variables))
            return tf.constant(True)

        tf.cond(invalid, lambda: tf.constant(False), update)
        return self.compute_metrics(x, y, y_pred, sample_weight=sample_weight)

    def test_step(self, data):
        """Keras' test step, on a batch checked first (`check_inputs`);
        compiled with XLA, a refused batch's loss is NaN."""
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        if not self.jit_compile:
            x = self.check_inputs(x)
            return super().test_step(keras.utils.pack_x_y_sample_weight(x, y, sample_weight))
        invalid = self._any_invalid_input(x)
        x = self.make_inputs(*self._split_inputs(x))
        y_pred = self(x, training=False)
        loss = self._compute_loss(
            x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=False
        )
        self._track_loss(tf.where(invalid, tf.constant(math.nan, loss.dtype), loss), x)
        return self.compute_metrics(x, y, y_pred, sample_weight=sample_weight)

    def _track_loss(self, loss, x):
        """Adds a step's loss to `fit`'s and `evaluate`'s running mean, as
        Keras' own steps do: the per-replica loss times the replicas is the
        global batch's mean."""
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        images = x["images"] if isinstance(x, dict) else x
        self._loss_tracker.update_state(loss * replicas, sample_weight=tf.shape(images)[0])

    def predict_step(self, data):
        """Keras' predict step, on a batch checked first (`check_inputs`);
        compiled with XLA, a refused batch's outputs are NaN."""
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        if not self.jit_compile:
            return self(self.check_inputs(x), training=False)
        invalid = self._any_invalid_input(x)
        y_pred = self(self.make_inputs(*self._split_inputs(x)), training=False)
        return tf.where(invalid, tf.constant(math.nan, y_pred.dtype), y_pred)

    # --- Sampling -------------------------------------------------------------

    # The family's `build_loop(model, jit_compile=..., teacher_forced_rows=...)`
    # (its `cached_sampler.py`), as a staticmethod; None for a family
    # without a cached sampler, or one that overrides `build_cached_loop`.
    cached_loop_builder = None

    def build_cached_loop(self, jit_compile=False, teacher_forced_rows=True):
        """The model's cached sampling loop (see `pixel_keras.sampling`);
        with `jit_compile`, compiled with XLA (where `cached_loop_compiles`).
        With `teacher_forced_rows` (for completions) the loop computes the
        rows above the first unknown pixel without draws, then starts
        there; without it (for sampling, where no pixel is known) it has no
        such pass to trace and compile."""
        if self.cached_loop_builder is None:
            raise NotImplementedError(
                f"{type(self).__name__} has no cached sampler; use method='naive'."
            )
        return self.cached_loop_builder(
            self, jit_compile=jit_compile, teacher_forced_rows=teacher_forced_rows
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

    @property
    def condition_map_factors(self):
        """`(rows, cols)` by which a spatial condition map is upsampled to
        the image (a family that takes maps), or None when the condition is
        a vector or there is none."""
        return condition_map_factors(self.image_shape, self.conditional_shape)

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


def _batch_size(images):
    """The batch size of `images`: an int when known, else a scalar tensor."""
    batch = images.shape[0]
    return batch if batch is not None else tf.shape(images)[0]
