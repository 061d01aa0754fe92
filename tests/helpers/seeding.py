"""Seeding that keeps TensorFlow's traced functions."""

from unittest import mock

import keras
import tensorflow as tf


def set_random_seed(seed):
    """`keras.utils.set_random_seed`, except TensorFlow's global seed.

    Python's, NumPy's and Keras' generators are seeded; TensorFlow's global
    seed is set once per test process (`tests/conftest.py`), because
    `tf.random.set_seed` also empties TensorFlow's eager kernel cache, after
    which every function a shared fixture had traced or loaded is
    instantiated and optimized again (an export's sampling signature: 3-5 s
    each). Nothing here draws from TensorFlow's global seed: the models'
    initializers and dropout use Keras' generator, the samplers stateless
    per-image seeds.
    """
    with mock.patch.object(tf.random, "set_seed", lambda seed: None):
        keras.utils.set_random_seed(seed)
