"""General conditioning (`conditional_shape`), input encodings and many levels.

What discrete latent maps need: a categorical model over codes with many
values, read one-hot or embedded rather than as intensities, and a
likelihood conditioned on any fixed-shape input.
"""

import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf

from pixel_keras.layers.pixel_encoding import PixelEncoding
from pixel_keras.models import PixelCNN
from pixel_keras.models import PixelRNN
from tests.test_pixel_cnn import assert_autoregressive


def _model(kind, **overrides):
    config = {"num_filters": 6, "output_filters": 6, "num_layers": 2}
    config.update(overrides)
    if kind == "pixel_cnn":
        return PixelCNN.from_preset("tiny", **config)
    return PixelRNN.from_preset("tiny", kind=kind, **config)


def perturbation_dependencies(model, images, condition=None):
    """Which input sub-pixels each output sub-pixel's logits depend on, found
    by changing one input value at a time (one-hot and embedded inputs have
    no gradient with respect to the values).

    Returns:
        bool `(H, W, C, H, W, C)`, as `subpixel_dependencies`.
    """
    shape = model.image_shape
    images = np.asarray(images, np.float32)
    num = len(images)
    changed = []
    for index in itertools.product(*(range(d) for d in shape)):
        moved = images.copy()
        moved[(slice(None), *index)] = (moved[(slice(None), *index)] + 1) % model.num_levels
        changed.append(moved)
    batch = np.concatenate([images, *changed])
    conditioning = None
    if condition is not None:
        conditioning = np.tile(condition, (len(changed) + 1,) + (1,) * (condition.ndim - 1))
    logits = model.channel_logits(model(model.make_inputs(batch, conditioning))).numpy()
    base, moved = logits[:num], logits[num:].reshape(len(changed), num, *logits.shape[1:])
    # Above rounding: the rows of one batch may be computed in different
    # orders, so unchanged logits can still differ in their last bits.
    differs = np.abs(moved - base).max(axis=(1, -1)) > 1e-4  # (inputs, H, W, C)
    return np.moveaxis(differs.reshape(*shape, *shape), (0, 1, 2), (3, 4, 5))


@pytest.mark.parametrize("encoding", ["one_hot", "embedding"])
@pytest.mark.parametrize("kind", ["pixel_cnn", "diagonal_bilstm"])
def test_encodings_keep_the_model_autoregressive(kind, encoding):
    model = _model(kind, image_shape=(3, 3, 3), num_levels=4, input_encoding=encoding)
    # Several images: a ReLU can hide a dependence at one of them.
    images = np.random.default_rng(0).integers(0, 4, (8, 3, 3, 3))
    assert_autoregressive(perturbation_dependencies(model, images))


def test_condition_changes_the_outputs_and_keeps_them_autoregressive():
    model = _model("row_lstm", image_shape=(3, 3, 2), num_levels=3, conditional_shape=(2, 2))
    generator = np.random.default_rng(1)
    images = generator.integers(0, 3, (2, 3, 3, 2))
    condition = generator.normal(size=(2, 2, 2)).astype(np.float32)
    assert_autoregressive(perturbation_dependencies(model, images, condition))
    a = model.log_prob(images, condition=condition)
    b = model.log_prob(images, condition=condition + 1.0)
    assert np.all(np.abs(a - b) > 1e-4)
    with pytest.raises(ValueError, match="condition"):
        model.log_prob(images)
    with pytest.raises(ValueError, match="condition"):
        model.log_prob(images, labels=[0, 1])
    with pytest.raises(ValueError, match=r"condition.*\(2, 2, 2\)"):
        model.sample(2, seed=0, condition=np.zeros((2, 3)), method="naive")


def test_pixel_encoding_values():
    values = tf.constant([[0.0, 3.0], [2.0, 1.0]])
    scaled = PixelEncoding(4, "scaled")(values)
    np.testing.assert_allclose(scaled, values * (2.0 / 3.0) - 1.0)
    one_hot = PixelEncoding(4, "one_hot")(values).numpy()
    np.testing.assert_array_equal(one_hot[0], [1, 0, 0, 0, 0, 0, 0, 1])
    layer = PixelEncoding(4, "embedding", embedding_dim=3)
    embedded = layer(values).numpy()
    table = layer.embeddings.numpy()
    # Channel c of value v reads row v of table c.
    np.testing.assert_allclose(embedded[1], np.concatenate([table[0, 2], table[1, 1]]))
    restored = PixelEncoding.from_config(layer.get_config())
    assert restored.get_config() == layer.get_config()


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
    path = str(tmp_path / "model.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    assert restored.conditional_shape == (4,)
    assert restored.input_encoding == "embedding"
    np.testing.assert_allclose(
        restored.log_prob(images, condition=condition),
        model.log_prob(images, condition=condition),
        rtol=1e-6,
    )


def test_conditioned_distribution_batches_over_the_condition():
    model = _model("pixel_cnn", image_shape=(2, 2, 1), num_levels=3, conditional_shape=(2,))
    condition = np.random.default_rng(3).normal(size=(4, 2)).astype(np.float32)
    distribution = model.as_distribution(condition)
    assert distribution.batch_shape == [4]
    images = distribution.sample(2, seed=[1, 2])
    assert images.shape == (2, 4, 2, 2, 1)
    expected = model.log_prob(np.reshape(images, (8, 2, 2, 1)), condition=np.tile(condition, (2, 1)))
    np.testing.assert_allclose(distribution.log_prob(images), np.reshape(expected, (2, 4)), rtol=1e-6)
    with pytest.raises(ValueError, match=r"shape \[\.\.\., 2\]"):
        model.as_distribution(np.zeros((4, 3)))


def test_pixel_cnn_pp_conditioned_on_values_samples_like_naive():
    from tests.conftest import tiny_pixel_cnn_pp

    model = tiny_pixel_cnn_pp(image_shape=(4, 4, 3), num_levels=8, conditional_shape=(3,))
    condition = np.random.default_rng(4).normal(size=(3, 3)).astype(np.float32)
    images = model.sample(3, seed=5, condition=condition).numpy()
    np.testing.assert_array_equal(
        images, model.sample(3, seed=5, condition=condition, method="naive")
    )
    a = model.log_prob(images, condition=condition)
    b = model.log_prob(images, condition=condition[::-1])
    assert np.any(np.abs(a - b) > 1e-4)
    assert model.get_config()["conditional_shape"] == (3,)
