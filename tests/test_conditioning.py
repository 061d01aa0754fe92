"""The one condition spec (`pixel_keras/conditioning.py`): what a model is
conditioned on, its name `condition` everywhere, and its checks.

Through the models: a condition of values changes the outputs and keeps
them autoregressive, a wrong or missing condition is refused naming it, and
`as_distribution` batches over the condition.
"""

import numpy as np
import pytest
import tensorflow as tf

from pixel_keras.conditioning import CONDITION
from pixel_keras.conditioning import ConditionSpec
from tests import helpers


def _model(kind, **overrides):
    config = {"num_filters": 6, "output_filters": 6, "num_layers": 2}
    config.update(overrides)
    if kind == "pixel_cnn":
        return helpers.tiny_pixel_cnn(**config)
    return helpers.tiny_pixel_rnn(kind, **config)


@pytest.mark.parametrize(
    "spec, kind, event_shape, dtype, num_features",
    [
        (ConditionSpec(), "none", None, None, 0),
        (ConditionSpec(num_classes=10), "labels", (), tf.int32, 10),
        (ConditionSpec(shape=(2, 3)), "values", (2, 3), tf.float32, 6),
    ],
)
def test_spec_kinds(spec, kind, event_shape, dtype, num_features):
    assert CONDITION == "condition"
    assert spec.kind == kind and spec.is_conditional == (kind != "none")
    assert spec.event_shape == event_shape and spec.dtype == dtype
    assert spec.num_features == num_features


def test_spec_checks_name_the_condition():
    labels = ConditionSpec(num_classes=4)
    assert labels.describe() == "int class labels of shape (batch,) in [0, 4)"
    np.testing.assert_array_equal(labels.check([3, 0], batch=2), [3, 0])
    with pytest.raises(ValueError, match=r"`condition`.*\[0, 4\).*a label 4"):
        labels.check([0, 4])
    with pytest.raises(ValueError, match=r"`condition`.*shape \(3,\)"):
        labels.check([0, 1, 2], batch=2)
    with pytest.raises(ValueError, match="pass `condition`"):
        labels.resolve(None)
    values = ConditionSpec(shape=(2,))
    with pytest.raises(ValueError, match="finite"):
        values.check([[0.0, np.nan]])
    np.testing.assert_array_equal(values.vector(np.ones((3, 2))), np.ones((3, 2)))
    np.testing.assert_array_equal(labels.vector([1]), [[0, 1, 0, 0]])
    with pytest.raises(ValueError, match="unconditional"):
        ConditionSpec().resolve([0])
    with pytest.raises(ValueError, match="not both"):
        ConditionSpec(num_classes=3, shape=(2,))


def test_condition_changes_the_outputs_and_keeps_them_autoregressive():
    model = _model("row_lstm", image_shape=(3, 3, 2), num_levels=3, conditional_shape=(2, 2))
    generator = np.random.default_rng(1)
    images = generator.integers(0, 3, (2, 3, 3, 2))
    condition = generator.normal(size=(2, 2, 2)).astype(np.float32)
    helpers.assert_autoregressive(helpers.perturbation_dependencies(model, images, condition))
    a = model.log_prob(images, condition=condition)
    b = model.log_prob(images, condition=condition + 1.0)
    assert np.all(np.abs(a - b) > 1e-4)
    with pytest.raises(ValueError, match="condition"):
        model.log_prob(images)
    with pytest.raises(ValueError, match="condition"):
        model.log_prob(images, condition=[0, 1])
    with pytest.raises(ValueError, match=r"condition.*\(2, 2, 2\)"):
        model.sample(2, seed=0, condition=np.zeros((2, 3)), method="naive")


def test_conditioned_distribution_batches_over_the_condition():
    model = _model("pixel_cnn", image_shape=(2, 2, 1), num_levels=3, conditional_shape=(2,))
    condition = np.random.default_rng(3).normal(size=(4, 2)).astype(np.float32)
    distribution = model.as_distribution(condition)
    assert distribution.batch_shape == [4]
    images = distribution.sample(2, seed=[1, 2])
    assert images.shape == (2, 4, 2, 2, 1)
    expected = model.log_prob(
        np.reshape(images, (8, 2, 2, 1)), condition=np.tile(condition, (2, 1))
    )
    np.testing.assert_allclose(
        distribution.log_prob(images), np.reshape(expected, (2, 4)), rtol=1e-6
    )
    with pytest.raises(ValueError, match=r"shape \[\.\.\., 2\]"):
        model.as_distribution(np.zeros((4, 3)))
