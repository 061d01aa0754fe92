"""What a model is conditioned on: nothing, class labels, or values.

Every pixel_keras model owns one `ConditionSpec`, `model.condition_spec`,
made from its `num_classes` and `conditional_shape` arguments. The input it
describes has one name everywhere: `condition` in the Python API
(`model.sample(..., condition=labels)`, `log_prob`, `complete`,
`as_distribution`), in the model's input dict (`{"images", "condition"}`)
and in the export's signatures. Its checks live here, once: eager checks for
the Python API, graph assertions for the export and for TFP's
`validate_args`.
"""

import math
import warnings

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from pixel_keras.graph_checks import passed_only_if

# The name of the conditioning input, everywhere.
CONDITION = "condition"


def _warn_deprecated(old):
    warnings.warn(
        f"`{old}` is deprecated; pass the class labels or values as `{CONDITION}`.",
        DeprecationWarning,
        stacklevel=3,
    )


class ConditionSpec:
    """The conditioning input a model takes, and its checks.

    Args:
        num_classes: int >= 2 or None. Class labels: int `(batch,)` in
            `[0, num_classes)`, seen by the network as a one-hot vector.
        shape: tuple of positive ints or None. Values: float `(batch,
            *shape)` (a vector, a small map: `p(x | z)`), seen by the network
            flattened.

    At most one of them; with neither, the model is unconditional.

    Example:

    >>> spec = ConditionSpec(num_classes=10)
    >>> spec.describe()
    'int class labels of shape (batch,) in [0, 10)'
    >>> spec.check([3, 7], batch=2)
    <tf.Tensor: shape=(2,), dtype=int32, numpy=array([3, 7], dtype=int32)>
    """

    def __init__(self, num_classes=None, shape=None):
        if num_classes is not None and (
            isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2
        ):
            raise ValueError(
                f"Expected `num_classes` to be an int >= 2 or None. "
                f"Received: num_classes={num_classes!r}"
            )
        if shape is not None:
            if num_classes is not None:
                raise ValueError(
                    "Pass `num_classes` (class labels) or `conditional_shape` (any "
                    "conditioning values), not both. Received: "
                    f"num_classes={num_classes}, conditional_shape={shape}"
                )
            shape = tuple(shape)
            if not shape or not all(
                isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in shape
            ):
                raise ValueError(
                    "Expected `conditional_shape` to be a non-empty tuple of positive "
                    f"ints. Received: conditional_shape={shape}"
                )
        self.num_classes = num_classes
        self.shape = shape

    # --- What it is -----------------------------------------------------------

    @property
    def kind(self):
        """`"labels"`, `"values"` or `"none"`."""
        if self.num_classes is not None:
            return "labels"
        return "values" if self.shape is not None else "none"

    @property
    def is_conditional(self):
        return self.kind != "none"

    @property
    def event_shape(self):
        """The shape of one image's condition: `()` for a label, `shape` for
        values, None when unconditional."""
        return {"labels": (), "values": self.shape, "none": None}[self.kind]

    @property
    def dtype(self):
        return {"labels": tf.int32, "values": tf.float32, "none": None}[self.kind]

    @property
    def num_features(self):
        """The length of the vector the network sees (see `vector`)."""
        if self.kind == "labels":
            return self.num_classes
        return math.prod(self.shape) if self.kind == "values" else 0

    def describe(self, batch="batch"):
        """The expected input, in words, for error messages."""
        if self.kind == "labels":
            return f"int class labels of shape ({batch},) in [0, {self.num_classes})"
        if self.kind == "values":
            return f"float values of shape ({batch}, {', '.join(map(str, self.shape))})"
        return "no condition (the model is unconditional)"

    def __repr__(self):
        return f"ConditionSpec(num_classes={self.num_classes}, shape={self.shape})"

    # --- The network's side ---------------------------------------------------

    def keras_input(self):
        """The functional model's `condition` input, or None."""
        if self.kind == "none":
            return None
        if self.kind == "labels":
            return keras.Input(shape=(), dtype="int32", name=CONDITION)
        return keras.Input(shape=self.shape, name=CONDITION)

    def vector(self, condition):
        """The `(batch, num_features)` vector every layer is conditioned on:
        the one-hot label or the flattened values (None when unconditional).
        Works on symbolic Keras tensors and on tensors."""
        if self.kind == "none" or condition is None:
            return None
        if self.kind == "labels":
            return ops.one_hot(ops.cast(condition, "int32"), self.num_classes)
        return ops.reshape(ops.cast(condition, "float32"), (-1, self.num_features))

    def tensor_spec(self, batch=None, name=CONDITION):
        """A `tf.TensorSpec` of a batch of conditions, or None."""
        if self.kind == "none":
            return None
        return tf.TensorSpec([batch, *self.event_shape], self.dtype, name=name)

    def zeros(self, batch):
        """A batch of valid conditions (label 0, zero values), or None."""
        if self.kind == "none":
            return None
        return tf.zeros([batch, *self.event_shape], self.dtype)

    # --- The caller's side ----------------------------------------------------

    # The checks are Python-level (shapes, dtypes, which call to make);
    # autograph has nothing to convert in them, and converting them inside a
    # traced caller failed in a long test run ("tf__check_spec() missing 1
    # required positional argument").
    @tf.autograph.experimental.do_not_convert
    def resolve(self, condition=None, labels=None, deprecated_name="labels"):
        """The condition a call passes, given its deprecated name too.

        Args:
            condition: the `condition` argument.
            labels: the value of the deprecated argument, if any.
            deprecated_name: that argument's name, for the warning.

        Raises:
            ValueError: if the model is conditional and none is given, or
                unconditional and one is given.
        """
        if labels is not None:
            _warn_deprecated(deprecated_name)
            if condition is not None:
                raise ValueError("Pass `condition` only (`labels` is its deprecated name).")
            condition = labels
        if self.kind == "none":
            if condition is not None:
                raise ValueError(
                    "This model is unconditional (not class-conditional nor "
                    "conditioned on values: num_classes=None, conditional_shape=None); "
                    "do not pass `condition` (or its deprecated name `labels`)."
                )
            return None
        if condition is None:
            raise ValueError(
                f"This model is conditional; pass `condition`: {self.describe()}."
            )
        return condition

    def model_inputs(self, inputs):
        """A model input dict with the deprecated `"labels"` key renamed
        `"condition"` (other inputs are returned as they are)."""
        if isinstance(inputs, dict) and "labels" in inputs and CONDITION not in inputs:
            _warn_deprecated("labels")
            inputs = dict(inputs)
            inputs[CONDITION] = inputs.pop("labels")
        return inputs

    @tf.autograph.experimental.do_not_convert
    def check(
        self, condition, batch=None, name=CONDITION, leading_dims=False, check_values=True
    ):
        """A condition checked and cast to `dtype`; None when unconditional.

        Shapes and dtypes are checked statically; values (labels in range,
        finite values) are checked when executing eagerly and `check_values`.
        In a graph, add `assertions(...)` instead.

        Args:
            condition: the condition, as `resolve` returns it.
            batch: int, the expected batch size, or None for any.
            name: the argument's name in messages.
            leading_dims: allow any number of leading dimensions (a TFP
                batch shape) instead of exactly one.
            check_values: check the values when executing eagerly (a TFP
                distribution checks them only under `validate_args`).

        Raises:
            ValueError: naming the argument, what was received and what was
                expected.
        """
        if self.kind == "none":
            return self.resolve(condition)
        tensor = self._as_tensor(condition)
        self.check_spec(tensor, batch=batch, name=name, leading_dims=leading_dims)
        expected = (
            self.describe(batch if batch is not None else "batch")
            if not leading_dims
            else (
                f"int class labels in [0, {self.num_classes})"
                if self.kind == "labels"
                else "finite float values"
            )
        )
        if check_values and tf.executing_eagerly():
            # Before the cast: an int64 label of 2**32 would wrap into range.
            values = tensor.numpy()
            if self.kind == "labels":
                bad = values[(values < 0) | (values >= self.num_classes)]
                if bad.size:
                    raise ValueError(
                        f"Expected `{name}`: {expected}. Received: a label {bad.flat[0]}"
                    )
            elif not np.all(np.isfinite(values)):
                raise ValueError(
                    f"Expected `{name}`: {expected}, finite. Received: NaN or inf values"
                )
        return tensor if tensor.dtype == self.dtype else tf.cast(tensor, self.dtype)

    @tf.autograph.experimental.do_not_convert
    def check_spec(self, spec, batch=None, name=CONDITION, leading_dims=False):
        """Raises a ValueError unless `spec` (a tensor or a `tf.TensorSpec`)
        has a dtype and a known shape a condition can have; see `check`."""
        received = f"Received: {name} of dtype {spec.dtype.name} and shape {tuple(spec.shape)}"
        if leading_dims:
            expected = (
                f"{'int class labels' if self.kind == 'labels' else 'float values'} "
                f"of shape [..., {', '.join(map(str, self.event_shape))}]"
            )
        else:
            expected = self.describe(batch if batch is not None else "batch")
        if self.kind == "labels" and not spec.dtype.is_integer:
            raise ValueError(f"Expected `{name}`: {expected}. {received}")
        if self.kind == "values" and not (spec.dtype.is_floating or spec.dtype.is_integer):
            raise ValueError(f"Expected `{name}`: {expected}. {received}")
        if spec.shape.rank is None:
            return
        rank = len(self.event_shape)
        shape = tuple(spec.shape)
        if leading_dims:
            shape_ok = len(shape) >= rank and shape[len(shape) - rank :] == self.event_shape
        else:
            shape_ok = len(shape) == rank + 1 and shape[1:] == self.event_shape and (
                batch is None or shape[0] in (None, batch)
            )
        if not shape_ok:
            raise ValueError(f"Expected `{name}`: {expected}. {received}")

    @tf.autograph.experimental.do_not_convert
    def checked(self, condition, batch, name=CONDITION):
        """The condition of a batch of images, checked like their pixels.

        The one check every entry point that takes images with their
        condition uses (the train, test and predict steps, `log_prob`,
        `distribution`, exact evaluation): labels are integers in
        `[0, num_classes)`, values finite and of the declared shape, and
        there is one row per image. Shapes and dtypes are checked when the
        call is traced; values and a batch known only at run time at once
        when executing eagerly, and otherwise by graph assertions
        (`assertions`) that whatever uses the returned tensor waits for.

        Args:
            condition: the condition, as `resolve` returns it.
            batch: the images' batch size: an int, or a scalar tensor.
            name: the argument's name in messages.

        Returns:
            The condition cast to `dtype` (behind the assertions in a
            graph), or None when unconditional.

        Raises:
            ValueError: naming the argument, what was received and what was
                expected (eagerly, or for a shape or dtype when traced).
        """
        if self.kind == "none":
            return self.resolve(condition)
        static_batch = batch if isinstance(batch, int) else tf.get_static_value(batch)
        tensor = self._as_tensor(condition)
        if tf.executing_eagerly():
            return self.check(tensor, batch=_as_int(static_batch), name=name)
        checked = self.check(tensor, batch=_as_int(static_batch), name=name, check_values=False)
        if batch is not None and static_batch is None:
            # One row per image, by data: a broadcast of the condition
            # against the images must not fail first.
            checked = passed_only_if(
                tf.equal(tf.shape(checked)[0], tf.cast(batch, tf.int32)),
                checked,
                [
                    f"`{name}` must have one row per image, like the images. "
                    "Received rows:",
                    tf.shape(checked)[0],
                    "images:",
                    batch,
                ],
            )
        return passed_only_if(
            tf.logical_not(self.any_invalid(tensor, tf.shape(tensor)[0])),
            checked,
            [self._value_message(name)],
        )

    def _value_message(self, name):
        if self.kind == "labels":
            return f"`{name}` labels must be in [0, {self.num_classes})"
        return f"`{name}` values must be finite"

    @tf.autograph.experimental.do_not_convert
    def any_invalid(self, condition, batch):
        """A scalar bool tensor: whether a batch's condition is out of range,
        not finite, or not one row per image. For code compiled with XLA,
        which has no `Assert` (see `AutoregressiveImageModel.train_step`);
        shapes and dtypes are still checked when traced (`check`)."""
        if self.kind == "none":
            return tf.constant(False)
        tensor = self._as_tensor(condition)
        self.check(tensor, name=CONDITION, check_values=False)
        wrong_batch = tf.not_equal(tf.shape(tensor, out_type=tf.int32)[0], tf.cast(batch, tf.int32))
        if self.kind == "labels":
            labels = tf.cast(tensor, tf.int64)
            bad = tf.reduce_any((labels < 0) | (labels >= self.num_classes))
        else:
            bad = tf.logical_not(tf.reduce_all(tf.math.is_finite(tf.cast(tensor, tf.float32))))
        return wrong_batch | bad

    def _as_tensor(self, condition):
        if isinstance(condition, (tf.Tensor, tf.Variable)):
            return tf.convert_to_tensor(condition)
        # Through NumPy, in the array's own dtype: a dtype hint would wrap an
        # int64 label of 2**32 + 3 into 3.
        return tf.convert_to_tensor(np.asarray(condition))

    @tf.autograph.experimental.do_not_convert
    def assertions(self, condition, batch=None, name=CONDITION, check_shape=True):
        """Graph assertions on a batch of conditions.

        Args:
            condition: a tensor, `(batch, *event_shape)`.
            batch: None, or a scalar tensor: the batch the other inputs have.
            name: the argument's name in messages.
            check_shape: whether to assert the shape after the batch (a
                loaded SavedModel does not check it).

        Returns:
            Assertions of the shape, one row per image (with `batch`), labels
            in range and values finite; an empty list when unconditional.
        """
        if self.kind == "none":
            return []
        expected = self.describe()
        checks = []
        if check_shape:
            checks.append(
                tf.debugging.assert_equal(
                    tf.shape(condition)[1:],
                    tf.constant(self.event_shape, tf.int32),
                    message=(
                        f"`{name}` must have shape "
                        f"[{', '.join(['batch', *map(str, self.event_shape)])}]: {expected}"
                    ),
                )
            )
        if batch is not None:
            checks.append(
                tf.debugging.assert_equal(
                    tf.shape(condition)[0],
                    batch,
                    message=f"`{name}` must have one row per image, like the other inputs",
                )
            )
        if self.kind == "labels":
            in_range = f"`{name}` labels must be in [0, {self.num_classes})"
            # In int64: `num_classes` may not fit the labels' own dtype.
            labels = tf.cast(condition, tf.int64)
            checks += [
                tf.debugging.assert_greater_equal(
                    labels, tf.constant(0, tf.int64), message=in_range
                ),
                tf.debugging.assert_less(
                    labels, tf.constant(self.num_classes, tf.int64), message=in_range
                ),
            ]
        else:
            checks.append(
                tf.debugging.assert_all_finite(condition, f"`{name}` values must be finite")
            )
        return checks


def _as_int(value):
    """A static batch size as a Python int, or None."""
    return None if value is None else int(value)
