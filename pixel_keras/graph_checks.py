"""A check inside a graph that nothing downstream can run ahead of.

`tf.debugging.Assert` orders only what sits under its control
dependencies, and in a `tf.function` that is not enough: measured in
TensorFlow 2.21, an op reading a tensor behind `tf.control_dependencies`
on a failing `Assert` (a concatenation of images of the wrong size) still
ran, and failed with its own message. So the checked tensor passes through
a data dependency on the check's outcome, `tf.debugging.check_numerics` of
a scalar that is NaN when the check fails: nothing that reads the tensor
(the network, its gradients, the optimizer's update) can run before the
check, and when it fails nothing runs at all. The `Assert`, which can show
what was received, runs beside it; whichever fails first, the error names
the argument and what was expected.
"""

import math

import tensorflow as tf


def passed_only_if(ok, tensor, message):
    """`tensor`, once the scalar bool `ok` is known to be True.

    Args:
        ok: a scalar bool tensor, the check's outcome.
        tensor: the tensor that the check guards.
        message: a list of strings and tensors for `tf.debugging.Assert`:
            the argument's name, what was expected and what was received.
            Its strings alone are the message of the data dependency.

    Returns:
        `tensor` (same value, dtype and static shape), computed after the
        check; when `ok` is False, evaluating it fails with an
        `InvalidArgumentError` carrying the message.
    """
    checked = _checked_flag(ok, message)
    return _after(checked, tensor, "".join(part for part in message if isinstance(part, str)))


def gate(checks, tensor, message):
    """`tensor` after graph checks that return a scalar bool, True when they
    pass (as `pixel_values.pixel_value_assertions` does), by a data
    dependency (see the module docstring).

    Args:
        checks: a list of scalar bool tensors; empty to return `tensor`.
        tensor: the tensor that the checks guard.
        message: a string, the error when a check fails.
    """
    if not checks:
        return tensor
    return _after(tf.reduce_all(tf.stack(checks)), tensor, message)


def _checked_flag(ok, message):
    def fail():
        with tf.control_dependencies([tf.debugging.Assert(False, message, summarize=8)]):
            return tf.constant(False)

    return tf.cond(ok, lambda: tf.constant(True), fail)


def _after(ok, tensor, message):
    nan_if_failed = tf.where(ok, tf.constant(0.0), tf.constant(math.nan))
    zero = tf.debugging.check_numerics(nan_if_failed, message)
    if tensor.dtype.is_bool:
        return tf.logical_and(tensor, tf.equal(zero, 0.0))
    passed = tensor + tf.cast(zero, tensor.dtype)
    passed.set_shape(tensor.shape)
    return passed
