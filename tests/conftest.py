"""Shared test helpers: tiny models and causality checks by gradients."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402


def tiny_pixel_cnn_pp(**overrides):
    """A small PixelCNN++ built from the `tiny` preset."""
    from pixel_keras.models import PixelCNNPlusPlus

    config = {"num_filters": 8, "num_logistic_mix": 2}
    config.update(overrides)
    return PixelCNNPlusPlus.from_preset("tiny", **config)


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


@pytest.fixture(autouse=True)
def _seed_everything():
    import keras

    keras.utils.set_random_seed(1234)
    yield
