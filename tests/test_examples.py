"""The examples run end to end (reduced)."""

import importlib.util
import os

import numpy as np
import pytest
import tensorflow as tf

_EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(__file__)), "examples")


def _load(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(_EXAMPLES, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_discrete_latent_prior_samples_digits_through_the_decoder():
    example = _load("discrete_latent_prior")
    results = example.run(
        num_codes=8, autoencoder_epochs=3, prior_epochs=4, num_samples=4, verbose=0
    )
    codes, samples = results["codes"], results["samples"]
    assert codes.shape == (4, 4, 4, 1) and codes.dtype == np.int32
    assert codes.min() >= 0 and codes.max() < 8
    assert samples.shape == (4, 8, 8, 1) and samples.dtype == np.uint8
    assert samples.max() <= 16
    # The prior learned something about the code maps.
    losses = results["prior_losses"]
    assert losses[-1] < losses[0]
    assert results["prior_bits_per_code"] < np.log2(8)
    # The distribution's samples are the model's sampler's.
    np.testing.assert_array_equal(
        codes, results["prior_model"].sample(4, seed=tf.constant([0, 1], tf.int32))
    )


@pytest.mark.slow
def test_discrete_latent_prior_by_class_draws_a_row_per_class():
    example = _load("discrete_latent_prior")
    results = example.run(
        num_codes=8,
        autoencoder_epochs=3,
        prior_epochs=4,
        num_samples=2,
        verbose=0,
        class_conditional=True,
    )
    codes, labels = results["codes"], results["labels"]
    assert codes.shape == (20, 4, 4, 1) and results["samples"].shape == (20, 8, 8, 1)
    np.testing.assert_array_equal(labels, np.repeat(np.arange(10), 2))
    model = results["prior_model"]
    assert model.num_classes == 10
    # The draws are the model's own, class by class.
    np.testing.assert_array_equal(
        codes, model.sample(20, seed=tf.constant([0, 1], tf.int32), condition=labels)
    )
    # The label changes the prior's scores of the same code map.
    some = np.repeat(codes[:1], 10, axis=0)
    scores = model.log_prob(some.astype(np.float32), np.arange(10, dtype=np.int32)).numpy()
    assert np.ptp(scores) > 1e-3
    assert results["prior_losses"][-1] < results["prior_losses"][0]
