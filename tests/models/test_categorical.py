"""What the PixelRNN paper's models share (`models/categorical.py`): input
encodings that keep them autoregressive, many levels, and a `.keras` file
that keeps the encoding and the condition.

What discrete latent maps need: a categorical model over codes with many
values, read one-hot or embedded rather than as intensities.
"""

import numpy as np
import pytest
import tensorflow as tf

from tests import helpers


def _model(kind, **overrides):
    config = {"num_filters": 6, "output_filters": 6, "num_layers": 2}
    config.update(overrides)
    if kind == "pixel_cnn":
        return helpers.tiny_pixel_cnn(**config)
    return helpers.tiny_pixel_rnn(kind, **config)


@pytest.mark.parametrize("encoding", ["one_hot", "embedding"])
@pytest.mark.parametrize("kind", ["pixel_cnn", "diagonal_bilstm"])
def test_encodings_keep_the_model_autoregressive(kind, encoding):
    model = _model(kind, image_shape=(3, 3, 3), num_levels=4, input_encoding=encoding)
    # Several images: a ReLU can hide a dependence at one of them.
    images = np.random.default_rng(0).integers(0, 4, (8, 3, 3, 3))
    helpers.assert_autoregressive(helpers.perturbation_dependencies(model, images))


def test_more_than_256_levels_give_int32_samples_and_a_normalised_pmf():
    model = _model(
        "pixel_cnn", image_shape=(1, 2, 1), num_levels=300, input_encoding="embedding"
    )
    assert model.sample_dtype == tf.int32
    samples = model.sample(4, seed=0, method="naive").numpy()
    assert samples.dtype == np.int32 and samples.max() < 300
    # All 300 values of the first pixel given the second: p(x0) sums to one.
    images = np.stack([np.full((1, 2, 1), v) for v in range(300)])
    images[:, 0, 1] = 7
    first = model.output_distribution(model(images.astype(np.float32)))
    log_p0 = first.log_prob(images.astype(np.float32))[:, 0, 0].numpy()
    assert np.exp(log_p0.astype(np.float64)).sum() == pytest.approx(1.0, abs=1e-5)


def test_save_and_load_keep_encoding_and_condition(tmp_path):
    model = _model(
        "pixel_cnn",
        image_shape=(3, 3, 1),
        num_levels=10,
        conditional_shape=(4,),
        input_encoding="embedding",
        embedding_dim=3,
    )
    images = np.random.default_rng(2).integers(0, 10, (2, 3, 3, 1))
    condition = np.ones((2, 4), np.float32)
    restored = helpers.check_model(model, images, condition, tmp_path=tmp_path).loaded
    assert restored.conditional_shape == (4,)
    assert restored.input_encoding == "embedding"
