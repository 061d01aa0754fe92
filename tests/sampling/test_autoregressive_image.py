"""`AutoregressiveImage`: any pixel_keras model as a TFP distribution."""

import itertools

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from pixel_keras import sampling
from pixel_keras.sampling import AutoregressiveImage
from pixel_keras.models import PixelCNN
from tests import helpers

tfd = tfp.distributions


@pytest.fixture(scope="module")
def conditional():
    return helpers.tiny_pixel_cnn_pp(image_shape=(4, 4, 1), num_levels=5, num_classes=3)


@pytest.fixture(scope="module")
def unconditional():
    return PixelCNN.from_preset(
        "tiny", image_shape=(3, 3, 3), num_levels=4, num_filters=6, output_filters=6
    )


def _images(model, num, seed=0):
    generator = np.random.default_rng(seed)
    return generator.integers(0, model.num_levels, (num, *model.image_shape)).astype(np.int32)


def test_shapes_and_log_prob_equal_the_model(conditional):
    labels = np.array([0, 2, 1], np.int32)
    distribution = conditional.as_distribution(labels)
    assert isinstance(distribution, AutoregressiveImage)
    assert distribution.batch_shape == [3]
    assert distribution.event_shape == [4, 4, 1]
    assert distribution.dtype == tf.int32
    images = _images(conditional, 6).reshape(2, 3, 4, 4, 1)
    expected = conditional.log_prob(images.reshape(6, 4, 4, 1), condition=np.tile(labels, 2))
    np.testing.assert_allclose(
        distribution.log_prob(images), np.reshape(expected, (2, 3)), rtol=1e-6
    )
    # One image scored under every label broadcasts against the batch.
    one = images[0, 0]
    expected = conditional.log_prob(np.stack([one] * 3), condition=labels)
    np.testing.assert_allclose(distribution.log_prob(one), expected, rtol=1e-6)


def test_log_prob_is_the_bits_per_dim_path(unconditional):
    images = _images(unconditional, 4)
    nats = unconditional.as_distribution().log_prob(images)
    bits = unconditional.bits_per_dim(images)
    np.testing.assert_allclose(-nats / (27 * np.log(2.0)), bits, rtol=1e-6)


def test_probabilities_sum_to_one():
    # Every 2x2 binary image: the joint pmf of the wrapper is normalised.
    model = helpers.tiny_pixel_cnn_pp(image_shape=(2, 2, 1), num_levels=2, num_hierarchies=2)
    grid = np.array(list(itertools.product([0, 1], repeat=4))).reshape(16, 2, 2, 1)
    total = np.exp(model.as_distribution().log_prob(grid).numpy().astype(np.float64)).sum()
    assert total == pytest.approx(1.0, abs=1e-5)


def test_samples_equal_the_model_sampler(conditional, unconditional):
    seed = tf.constant([4, 7], tf.int32)
    drawn = unconditional.as_distribution().sample(3, seed=seed)
    assert drawn.dtype == tf.int32 and drawn.shape == (3, 3, 3, 3)
    np.testing.assert_array_equal(drawn, unconditional.sample(3, seed=seed))
    # Conditional: image k of the flattened [n, batch] uses seed k.
    labels = np.array([2, 0], np.int32)
    drawn = conditional.as_distribution(labels).sample(2, seed=seed)
    assert drawn.shape == (2, 2, 4, 4, 1)
    expected = conditional.sample(4, seed=seed, condition=np.tile(labels, 2))
    np.testing.assert_array_equal(np.reshape(drawn, (4, 4, 4, 1)), expected)


def test_joint_distribution_samples_and_scores(conditional):
    def joint():
        label = yield tfd.JointDistributionCoroutine.Root(
            tfd.Categorical(logits=tf.math.log([0.2, 0.3, 0.5]), name="label")
        )
        yield conditional.as_distribution(label, name="image")

    model = tfd.JointDistributionCoroutine(joint)
    label, image = model.sample(3, seed=[1, 2])
    assert label.shape == (3,) and image.shape == (3, 4, 4, 1)
    expected = np.log(np.array([0.2, 0.3, 0.5]))[label.numpy()] + conditional.log_prob(
        image, condition=label
    )
    np.testing.assert_allclose(model.log_prob([label, image]), expected, rtol=1e-5)

    sequential = tfd.JointDistributionSequential(
        [tfd.Categorical(logits=tf.zeros(3)), lambda label: conditional.as_distribution(label)]
    )
    label, image = sequential.sample(2, seed=[3, 4])
    assert image.shape == (2, 4, 4, 1)
    assert np.all(np.isfinite(sequential.log_prob([label, image])))


def test_sample_and_independent_compose(unconditional):
    distribution = tfd.Sample(unconditional.as_distribution(), 2)
    images = distribution.sample(seed=[5, 6])
    assert images.shape == (2, 3, 3, 3)
    expected = tf.reduce_sum(unconditional.log_prob(images))
    np.testing.assert_allclose(distribution.log_prob(images), expected, rtol=1e-6)

    batch = tfd.Independent(
        AutoregressiveImage(
            helpers.tiny_pixel_cnn_pp(image_shape=(4, 4, 1), num_levels=5, num_classes=3),
            condition=[0, 1],
        ),
        reinterpreted_batch_ndims=1,
    )
    assert batch.batch_shape == [] and batch.event_shape == [2, 4, 4, 1]


def test_slicing_slices_the_conditioning(conditional):
    distribution = conditional.as_distribution(np.array([0, 1, 2], np.int32))
    sliced = distribution[1:]
    assert sliced.batch_shape == [2]
    np.testing.assert_array_equal(sliced.condition, [1, 2])


def test_gradients_reach_every_weight(unconditional):
    images = _images(unconditional, 2)
    with tf.GradientTape() as tape:
        loss = -tf.reduce_mean(unconditional.as_distribution().log_prob(images))
    gradients = tape.gradient(loss, unconditional.trainable_variables)
    assert all(g is not None for g in gradients)
    assert all(np.all(np.isfinite(g)) for g in gradients)
    assert sum(float(tf.reduce_sum(tf.abs(g))) for g in gradients) > 0


def test_bad_values_and_shapes_raise_clear_errors(conditional, unconditional):
    checked = unconditional.as_distribution(validate_args=True)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"in \[0, 3\]"):
        checked.log_prob(np.full((1, 3, 3, 3), 4, np.int32))
    # (TFP casts NumPy values to the distribution's int32; tensors keep
    # their dtype, so a float tensor is checked.)
    with pytest.raises(tf.errors.InvalidArgumentError, match="integers"):
        checked.log_prob(tf.fill([1, 3, 3, 3], 1.5))
    with pytest.raises(ValueError, match=r"shape \[\.\.\., 3, 3, 3\]"):
        checked.log_prob(np.zeros((1, 3, 4, 3), np.int32))
    # Labels known when the distribution is made are checked then.
    with pytest.raises(ValueError, match=r"labels in \[0, 3\)\. Received: a label 3"):
        conditional.as_distribution([0, 3], validate_args=True)
    with pytest.raises(ValueError, match="unconditional"):
        unconditional.as_distribution([0])
    with pytest.raises(ValueError, match="condition"):
        conditional.as_distribution()
    with pytest.raises(ValueError, match="method"):
        unconditional.as_distribution(method="fast")
    assert sampling.METHODS == ("cached", "naive")
