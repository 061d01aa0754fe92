"""The checks of what a user passes to sampling: `temperature`, `known_mask`
and a distribution's `sample_shape`.

A bad value here does not fail loudly further on: an infinite temperature
draws all-zero images, a mask value of 0.5 or 2 counts as known, a negative
sample shape fails deep inside TensorFlow. So every entry point
(`sample`, `complete`, `AutoregressiveImage` and its `sample`) checks them
first: values it can read (Python, NumPy, eager tensors) raise a
`ValueError` naming the argument, what was received and what was expected;
a symbolic tensor (inside a `tf.function`, an exported signature) is
checked by graph assertions with the same wording, which fail the call
with an `InvalidArgumentError` before any sampling work.
"""

import numpy as np
import tensorflow as tf

# At most this many values of an array are shown in a message.
_SHOWN = 8


def _show(array):
    """A short text of a NumPy array's values, for a message."""
    if array.size <= _SHOWN:
        return repr(array.tolist())
    return np.array2string(array, threshold=_SHOWN, edgeitems=_SHOWN // 2, separator=", ")


def _is_symbolic(value):
    """Whether `value`'s values are unknown until it runs (a graph tensor)."""
    if isinstance(value, tf.Variable):
        return not tf.executing_eagerly()
    return tf.is_symbolic_tensor(value)


def _first_offending(array, bad):
    """`"; the first offending value is v at index i"` for a bool mask `bad`."""
    first = np.unravel_index(int(np.argmax(bad)), array.shape)
    where = tuple(int(i) for i in first)
    return f"; the first offending value is {array[where].item()!r} at index {where}"


# --- Temperature --------------------------------------------------------------


def _expected_temperature(num):
    expected = "Expected `temperature` to be a finite number > 0"
    if num is not None:
        expected += f", or one per image of shape ({num},)"
    return expected


def check_temperature(temperature, num=None):
    """`temperature` checked and cast to float32.

    Args:
        temperature: a finite number > 0 (Python, NumPy or a scalar
            tensor), or where `num` is given, one per image: shape `(num,)`.
        num: int, the number of images; None where only a scalar is taken.

    Returns:
        float32 `(num,)` (a scalar broadcast to every image), or a float32
        scalar where `num` is None. A symbolic tensor comes back behind the
        assertions of `temperature_assertions`.

    Raises:
        ValueError: for anything else (inf, NaN, 0, a negative number, a
            bool, a string, a vector of another length), naming
            `temperature`, what was received and what was expected.
    """
    expected = _expected_temperature(num)
    if temperature is None or isinstance(temperature, (bool, np.bool_, str, bytes)):
        raise ValueError(f"{expected}. Received: temperature={temperature!r}")
    if isinstance(temperature, (tf.Tensor, tf.Variable)):
        dtype = temperature.dtype
        if not (dtype.is_floating or dtype.is_integer):
            raise ValueError(
                f"{expected}. Received: temperature of dtype {dtype.name}"
            )
        shape = temperature.shape
    else:
        array = np.asarray(temperature)
        if array.dtype.kind not in "iuf":
            raise ValueError(f"{expected}. Received: temperature={_show(array)}")
        shape = tf.TensorShape(array.shape)
    if shape.rank not in (0, 1) or (
        shape.rank == 1 and (num is None or shape[0] not in (None, num))
    ):
        raise ValueError(
            f"{expected}. Received: temperature of shape {tuple(shape)}"
        )
    if _is_symbolic(temperature):
        temperature = tf.cast(temperature, tf.float32)
        with tf.control_dependencies(temperature_assertions(temperature)):
            temperature = tf.identity(temperature)
    else:
        # Checked as float32, the dtype the samplers use: 1e300 would be inf.
        if isinstance(temperature, (tf.Tensor, tf.Variable)):
            temperature = temperature.numpy()
        with np.errstate(over="ignore", invalid="ignore"):
            array = np.asarray(temperature).astype(np.float32)
            bad = ~(np.isfinite(array) & (array > 0))
        if bad.any():
            received = f"temperature={_show(np.asarray(temperature))}"
            if array.ndim:
                received += _first_offending(np.asarray(temperature), bad)
            raise ValueError(f"{expected}. Received: {received}")
        temperature = tf.constant(array)
    return temperature if num is None else tf.broadcast_to(temperature, [num])


def temperature_assertions(temperature):
    """Graph assertions that every temperature is finite and > 0.

    Args:
        temperature: a float tensor: a scalar, or one per image `(batch,)`.

    Returns:
        A list of ops to depend on; evaluating them fails with an
        `InvalidArgumentError` naming `temperature` and showing the values
        received. Eagerly, a bad value raises the `ValueError` of
        `check_temperature` at once and the list is empty.
    """
    temperature = tf.convert_to_tensor(temperature)
    if not _is_symbolic(temperature):
        check_temperature(temperature, temperature.shape[0] if temperature.shape.rank else None)
        return []
    good = tf.reduce_all(
        tf.math.logical_and(tf.math.is_finite(temperature), temperature > 0)
    )
    return [
        tf.debugging.Assert(
            good,
            [f"{_expected_temperature(None)}. Received: temperature =", temperature],
            summarize=_SHOWN,
        )
    ]


# --- Completion masks ---------------------------------------------------------


def _expected_known_mask(shape):
    return (
        "Expected `known_mask` to be bool, or integers that are all 0 or 1, of "
        f"shape {shape} (batch, height, width), True or 1 where a pixel is known"
    )


def check_known_mask(known_mask, shape):
    """`known_mask` checked and turned into a bool tensor.

    Args:
        known_mask: bool, or integers all 0 or 1; `(batch, height, width)`.
        shape: the expected shape, `images.shape[:3]`.

    Returns:
        A bool tensor of `shape`; a symbolic integer mask comes back behind
        the assertions of `known_mask_assertions`.

    Raises:
        ValueError: for another shape, a float or other dtype, or an integer
            other than 0 or 1, naming `known_mask`, what was received and
            what was expected.
    """
    shape = tuple(shape)
    expected = _expected_known_mask(shape)
    if known_mask is None or isinstance(known_mask, (str, bytes)):
        raise ValueError(f"{expected}. Received: known_mask={known_mask!r}")
    if not isinstance(known_mask, (tf.Tensor, tf.Variable)):
        array = np.asarray(known_mask)
        if array.dtype.kind not in "biuf":
            raise ValueError(f"{expected}. Received: known_mask of dtype {array.dtype}")
        known_mask = tf.convert_to_tensor(array)
    dtype = known_mask.dtype
    received_shape = tuple(known_mask.shape)
    if not known_mask.shape.is_compatible_with(shape):
        raise ValueError(f"{expected}. Received: known_mask.shape={received_shape}")
    if dtype.is_bool:
        return known_mask
    if not dtype.is_integer:
        received = f"known_mask of dtype {dtype.name}"
        if not _is_symbolic(known_mask) and dtype.is_floating:
            values = known_mask.numpy()
            received += f" with values in [{values.min():g}, {values.max():g}]"
        raise ValueError(f"{expected}. Received: {received}")
    if _is_symbolic(known_mask):
        with tf.control_dependencies(known_mask_assertions(known_mask)):
            return tf.not_equal(tf.identity(known_mask), 0)
    values = known_mask.numpy()
    bad = (values != 0) & (values != 1)
    if bad.any():
        raise ValueError(
            f"{expected}. Received: known_mask of dtype {dtype.name} with min "
            f"{values.min()} and max {values.max()}{_first_offending(values, bad)}"
        )
    return tf.not_equal(known_mask, 0)


def known_mask_assertions(known_mask):
    """Graph assertions that an integer `known_mask` is all 0 or 1.

    Args:
        known_mask: a bool or integer tensor.

    Returns:
        A list of ops to depend on (empty for a bool mask); evaluating them
        fails with an `InvalidArgumentError` naming `known_mask` and showing
        its smallest and largest value.
    """
    if known_mask.dtype.is_bool:
        return []
    zero = tf.zeros([], known_mask.dtype)
    one = tf.ones([], known_mask.dtype)
    good = tf.reduce_all(
        tf.math.logical_or(tf.equal(known_mask, zero), tf.equal(known_mask, one))
    )
    return [
        tf.debugging.Assert(
            good,
            [
                "Expected `known_mask` to be bool, or integers that are all 0 or 1. "
                f"Received: known_mask of dtype {known_mask.dtype.name} with min",
                tf.reduce_min(known_mask),
                "and max",
                tf.reduce_max(known_mask),
            ],
        )
    ]


# --- Sample shapes --------------------------------------------------------------


_EXPECTED_SAMPLE_SHAPE = (
    "Expected `sample_shape` to be a non-negative int or a list of them "
    "(0 gives an empty sample)"
)


def check_sample_shape(sample_shape):
    """A distribution's `sample_shape`, checked: int32 `[rank]` or a scalar.

    Args:
        sample_shape: a non-negative int, or a list, tuple, array,
            `TensorShape` or integer tensor of them (rank 0 or 1).

    Returns:
        `sample_shape` as an int32 tensor; a symbolic one behind an
        assertion that its values are non-negative.

    Raises:
        ValueError: for a negative or non-integer value, a bool, a string,
            or a rank above 1, naming `sample_shape`.
    """
    expected = _EXPECTED_SAMPLE_SHAPE
    if isinstance(sample_shape, tf.TensorShape):
        if sample_shape.rank is None or not sample_shape.is_fully_defined():
            raise ValueError(f"{expected}. Received: sample_shape={sample_shape}")
        sample_shape = sample_shape.as_list()
    if sample_shape is None or isinstance(sample_shape, (bool, np.bool_, str, bytes)):
        raise ValueError(f"{expected}. Received: sample_shape={sample_shape!r}")
    if isinstance(sample_shape, (tf.Tensor, tf.Variable)):
        if not sample_shape.dtype.is_integer or sample_shape.shape.rank not in (0, 1, None):
            raise ValueError(
                f"{expected}. Received: sample_shape of dtype "
                f"{sample_shape.dtype.name} and shape {tuple(sample_shape.shape)}"
            )
        if _is_symbolic(sample_shape):
            sample_shape = tf.cast(sample_shape, tf.int32)
            check = tf.debugging.assert_non_negative(
                sample_shape, message=f"{expected}. Received a negative sample_shape"
            )
            with tf.control_dependencies([check]):
                return tf.identity(sample_shape)
        array = sample_shape.numpy()
    else:
        if isinstance(sample_shape, (list, tuple)) and any(
            isinstance(size, (bool, np.bool_)) for size in sample_shape
        ):
            raise ValueError(f"{expected}. Received: sample_shape={sample_shape!r}")
        array = np.asarray(sample_shape)
        if array.size == 0 and array.dtype.kind == "f":
            array = array.astype(np.int32)  # `[]` or `()`: NumPy's empty floats.
    if array.dtype.kind not in "iu" or array.ndim > 1:
        raise ValueError(f"{expected}. Received: sample_shape={sample_shape!r}")
    if (array < 0).any() or (array > np.iinfo(np.int32).max).any():
        raise ValueError(f"{expected}. Received: sample_shape={sample_shape!r}")
    return tf.constant(array, tf.int32)
