"""Causality by gradients: no output reads an input at or after it."""

import numpy as np
import tensorflow as tf

def input_gradient_maps(fn, inputs, positions):
    """|d sum(fn(inputs)[:, r, c, :]) / d inputs| summed over channels.

    Args:
        fn: maps a float `(B, H, W, C)` tensor to `(B, H', W', D)`.
        inputs: float `(B, H, W, C)` array.
        positions: iterable of output positions `(r, c)`.

    Returns:
        dict `(r, c) -> (H, W)` array of summed absolute gradients.
    """
    inputs = tf.convert_to_tensor(inputs, tf.float32)
    maps = {}
    for r, c in positions:
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            outputs = fn(inputs)
            target = tf.reduce_sum(outputs[:, r, c, :])
        gradient = tape.gradient(target, inputs)
        maps[(r, c)] = np.abs(gradient.numpy()).sum(axis=(0, 3))
    return maps


def assert_raster_causal(maps, width):
    """Each output depends on no input at or after it, and on some before it."""
    for (r, c), gradient in maps.items():
        flat = gradient.reshape(-1)
        position = r * gradient.shape[1] + c
        assert np.all(flat[position:] == 0.0), (
            f"output ({r}, {c}) depends on inputs at or after it: "
            f"{np.argwhere(gradient > 0).tolist()}"
        )
        if position > 0:
            assert flat[:position].sum() > 0.0, (
                f"output ({r}, {c}) depends on no earlier input"
            )


def jacobian(fn, x):
    """|d fn(x)[r, c, d] / d x[r', c', k]| as `(H, W, D, H, W, Cin)`.

    One backward pass: batch element n is a copy of `x` whose cotangent is the
    one-hot of output `(r, c, d)` number n (batch elements are independent).
    """
    x = np.asarray(x, np.float32)
    height, width, _ = x.shape
    depth = fn(x[None]).shape[-1]
    count = height * width * depth
    inputs = tf.convert_to_tensor(np.repeat(x[None], count, axis=0))
    onehot = np.eye(count, dtype=np.float32).reshape(count, height, width, depth)
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        outputs = fn(inputs)
    gradient = tape.gradient(outputs, inputs, output_gradients=tf.constant(onehot))
    return np.abs(gradient.numpy()).reshape(height, width, depth, height, width, -1)
