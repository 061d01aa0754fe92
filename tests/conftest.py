"""Fixtures shared by every test (the helpers are in tests/helpers.py)."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# The causal convolutions' backward pass is pinned, so that no test's
# arithmetic (or time) depends on which pass a timing on a busy machine
# picked; tests/layers/test_padded_conv2d.py unpins it to test the choosing
# itself. `PIXEL_KERAS_CONV=auto python -m pytest tests` runs everything
# with the autotuned choice.
os.environ.setdefault("PIXEL_KERAS_CONV", "forward")
# Likewise sampling runs the plain loops (each XLA compile costs seconds);
# the compiled loops are tested explicitly (`jit_compile=True`) against
# them and against the naive loop.
os.environ.setdefault("PIXEL_KERAS_SAMPLING_XLA", "0")

import pytest  # noqa: E402


SEED = 1234


def pytest_configure(config):
    import tensorflow as tf

    # TensorFlow's global seed, once per process (see
    # `helpers.set_random_seed`).
    tf.random.set_seed(SEED)


@pytest.fixture(autouse=True)
def _seed_everything():
    """Python, NumPy and Keras seeded before every test; TensorFlow's global
    seed once per process (`helpers.set_random_seed` says why)."""
    from tests import helpers

    helpers.set_random_seed(SEED)
    yield
