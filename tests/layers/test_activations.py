"""`layers.activations`: ELU and sigmoid in float32 for 16-bit tensors on a
CPU, with the values and gradients of the float32 computation rounded once."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from pixel_keras.layers import activations
from pixel_keras.layers import concat_elu
from pixel_keras.layers.padded_conv2d import cpu_only

FUNCTIONS = {"elu": (activations.elu, tf.nn.elu), "sigmoid": (activations.sigmoid, tf.sigmoid)}


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
@pytest.mark.parametrize("dtype", ["bfloat16", "float16", "float32"])
def test_values_and_gradients_are_float32_rounded_once(name, dtype):
    ours, reference = FUNCTIONS[name]
    x = tf.cast(tf.linspace(-6.0, 6.0, 1001), dtype)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = ours(x)
        loss = tf.reduce_sum(tf.cast(y, tf.float32) * tf.linspace(0.5, 2.0, 1001))
    assert y.dtype == x.dtype
    x32 = tf.cast(x, tf.float32)
    with tf.GradientTape() as tape32:
        tape32.watch(x32)
        y32 = reference(x32)
        loss32 = tf.reduce_sum(y32 * tf.linspace(0.5, 2.0, 1001))
    # The float32 result rounded once to the tensor's dtype.
    np.testing.assert_array_equal(
        tf.cast(y, tf.float32).numpy(), tf.cast(tf.cast(y32, dtype), tf.float32).numpy()
    )
    gradient = tf.cast(tape.gradient(loss, x), tf.float32).numpy()
    expected = tape32.gradient(loss32, x32).numpy()
    tolerance = {"bfloat16": 1e-2, "float16": 2e-3, "float32": 1e-6}[dtype]
    np.testing.assert_allclose(gradient, expected, rtol=tolerance, atol=tolerance)


def _activation_dtypes(function, dtype):
    graph = tf.function(function).get_concrete_function(tf.TensorSpec([4, 8], dtype)).graph
    return {
        (op.type, op.get_attr("T").name)
        for op in graph.get_operations()
        if op.type in ("Elu", "Sigmoid")
    }


@pytest.mark.skipif(not cpu_only(), reason="the float32 path is for CPUs")
def test_a_cpu_computes_16_bit_activations_in_float32():
    assert _activation_dtypes(concat_elu, tf.bfloat16) == {("Elu", "float32")}
    assert _activation_dtypes(activations.sigmoid, tf.float16) == {("Sigmoid", "float32")}
    assert _activation_dtypes(concat_elu, tf.float32) == {("Elu", "float32")}


def test_keras_tensors_pass_through():
    x = keras.Input((4,), dtype="bfloat16")
    y = concat_elu(x)
    assert y.shape == (None, 8) and y.dtype == "bfloat16"
