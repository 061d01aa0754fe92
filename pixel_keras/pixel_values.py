"""The one check of pixel values: integers in `[0, num_levels - 1]`.

pixel_keras models take integer pixel values (`0 .. num_levels - 1`), not
the [0, 1] floats Keras users often feed out of habit. A value the model
cannot have gives a finite, plausible and wrong log-likelihood, so every
public entry point refuses it: `log_prob`, `bits_per_dim`, `distribution`,
`complete`, the training and evaluation steps (`fit`, `evaluate`), the
export's signatures, and the per-pixel distributions and
`AutoregressiveImage` under `validate_args`.

`check_pixel_values` raises a `ValueError` at once for values it can read
(eager execution), and otherwise (inside a `tf.function`, such as Keras'
train step) returns the values behind graph assertions that fail the step
with an `InvalidArgumentError` carrying the same message. Both name the
argument, what was received (dtype, min, max, the first offending value and
where) and what was expected, and say when the values look like images
scaled to [0, 1].
"""

import numpy as np
import tensorflow as tf

from pixel_keras.graph_checks import gate


def _expected(name, num_levels):
    return (
        f"Expected `{name}` to be integers in [0, {num_levels - 1}] "
        f"(num_levels={num_levels})"
    )


def _scaled_hint(num_levels):
    top = num_levels - 1
    return (
        f"this looks like images scaled to [0, 1]: pass integer values 0..{top} "
        f"(for example round(x * {top}))"
    )


def _check_dtype(values, name, num_levels):
    if not (values.dtype.is_integer or values.dtype.is_floating or values.dtype.is_bool):
        raise ValueError(
            f"{_expected(name, num_levels)}. Received: {name} of dtype "
            f"{values.dtype.name}."
        )


def _eager_message(values, name, num_levels):
    """The message for bad values in a NumPy array, or None if all are good."""
    top = num_levels - 1
    flat = values.reshape(-1)
    if values.dtype.kind == "b":
        flat = flat.astype(np.int64)
    finite = np.isfinite(flat) if values.dtype.kind == "f" else np.ones(flat.shape, bool)
    with np.errstate(invalid="ignore"):
        bad = ~finite | (flat < 0) | (flat > top) | (flat != np.round(flat))
    if not bad.any():
        return None
    first = int(np.argmax(bad))
    where = tuple(int(i) for i in np.unravel_index(first, values.shape))
    finite_values = flat[finite]
    low = finite_values.min() if finite_values.size else float("nan")
    high = finite_values.max() if finite_values.size else float("nan")
    message = (
        f"{_expected(name, num_levels)}. Received: {name} of dtype "
        f"{values.dtype.name} with min {low:g} and max {high:g}; the first "
        f"offending value is {flat[first]:g} at index {where}"
    )
    if finite.all() and low >= 0 and high <= 1 and top > 1:
        message += f"; {_scaled_hint(num_levels)}"
    return message + "."


def pixel_value_assertions(values, num_levels, name="images"):
    """Graph assertions that `values` are integers in `[0, num_levels - 1]`.

    Args:
        values: a tensor of pixel values (any shape, numeric dtype).
        num_levels: int, values per channel.
        name: the argument's name in messages.

    Returns:
        A list of tensors to depend on (empty for a dtype that cannot leave
        the range, and when executing eagerly). When a value is bad,
        evaluating them fails with an `InvalidArgumentError` whose message
        names `name`, the range, the minimum and maximum, and the first
        offending value and its index; eagerly, it is raised at once.
    """
    _check_dtype(values, name, num_levels)
    top = num_levels - 1
    if _always_valid(values.dtype, top):
        return []
    if tf.executing_eagerly():
        # The error TFP's own eager checks raise, with the eager message.
        message = _eager_message(values.numpy(), name, num_levels)
        if message:
            raise tf.errors.InvalidArgumentError(None, None, message)
        return []
    floats, bad = _invalid_values(values, top)

    def fail():
        # Only a failing check computes what its message shows.
        finite = tf.math.is_finite(floats)
        low = tf.reduce_min(tf.where(finite, floats, np.inf))
        high = tf.reduce_max(tf.where(finite, floats, -np.inf))
        first = tf.where(bad)[0]
        details = [
            f"Received: {name} of dtype {values.dtype.name} with min",
            low,
            "and max",
            high,
            "; the first offending value is",
            tf.gather_nd(floats, first),
            "at index",
            first,
        ]
        message = f"{_expected(name, num_levels)}."
        if top > 1:
            looks_scaled = tf.reduce_all(finite) & (low >= 0.0) & (high <= 1.0)
            message = tf.where(
                looks_scaled,
                f"{_expected(name, num_levels)}; {_scaled_hint(num_levels)}.",
                message,
            )
        with tf.control_dependencies(
            [tf.debugging.Assert(False, [message, *details], summarize=8)]
        ):
            return tf.constant(False)

    return [tf.cond(tf.reduce_any(bad), fail, lambda: tf.constant(True))]


def check_pixel_values(values, num_levels, name="images"):
    """`values` checked to be integers in `[0, num_levels - 1]`.

    Eagerly, raises at once; in a graph, returns `values` behind assertions
    (`pixel_value_assertions`) so that whatever uses them fails first.

    Args:
        values: pixel values, any shape; a tensor, array or nested lists of
            a numeric dtype.
        num_levels: int, values per channel.
        name: the argument's name in messages.

    Returns:
        `values` as a tensor (same dtype).

    Raises:
        ValueError: eagerly, for a value outside `[0, num_levels - 1]`, a
            non-integer, NaN or inf, or a dtype that is not numeric.
    """
    if not isinstance(values, (tf.Tensor, tf.Variable)):
        array = np.asarray(values)
        if array.dtype.kind not in "biuf":
            raise ValueError(
                f"{_expected(name, num_levels)}. Received: {name} of dtype {array.dtype}."
            )
        values = tf.convert_to_tensor(array)
    _check_dtype(values, name, num_levels)
    if tf.executing_eagerly():
        message = _eager_message(values.numpy(), name, num_levels)
        if message:
            raise ValueError(message)
        return values
    checks = pixel_value_assertions(values, num_levels, name)
    # By data, not control dependencies, so that nothing reads the values
    # before the check (see `graph_checks`).
    return gate(checks, values, f"{_expected(name, num_levels)}. Received another value")


def _always_valid(dtype, top):
    """Whether every value of `dtype` is an integer in `[0, top]`."""
    return dtype.is_bool or (dtype.is_integer and dtype.min >= 0 and dtype.max <= top)


def _invalid_values(values, top):
    """`(values as float32, bool tensor: True where a value is not an
    integer in [0, top])`."""
    floats = tf.cast(values, tf.float32)
    bad = tf.logical_or(floats < 0.0, floats > float(top))
    if values.dtype.is_floating:
        # NaN fails every comparison, so it is caught as a non-integer.
        bad = tf.logical_or(bad, tf.not_equal(floats, tf.round(floats)))
        bad = tf.logical_or(bad, tf.math.is_inf(floats))
    return floats, bad


def any_invalid_pixel(values, num_levels):
    """A scalar bool tensor: whether any of `values` is not an integer in
    `[0, num_levels - 1]` (NaN and inf included).

    The check for code compiled with XLA, which has no `Assert`: the caller
    turns it into a NaN (see `AutoregressiveImageModel.train_step`).
    """
    values = tf.convert_to_tensor(values)
    top = num_levels - 1
    if _always_valid(values.dtype, top):
        return tf.constant(False)
    return tf.reduce_any(_invalid_values(values, top)[1])
