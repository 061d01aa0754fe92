"""EMA (Polyak) weights: the optimizer's averages follow a NumPy recurrence,
and the model takes them."""

import numpy as np
import pytest

from pixel_keras import training
from tests import helpers


def test_ema_weights_follow_a_numpy_recurrence_of_the_raw_weights():
    model = helpers.tiny_pixel_cnn_pp(num_hierarchies=1)
    momentum = 0.8
    model.compile(optimizer=training.make_optimizer(learning_rate=1e-2, ema_momentum=momentum))
    variables = model.trainable_variables
    model.optimizer.build(variables)
    rng = np.random.default_rng(0)
    raw = []
    for _ in range(4):
        gradients = [rng.normal(size=v.shape).astype("float32") for v in variables]
        model.optimizer.apply(gradients, variables)
        raw.append([w.astype(np.float64) for w in helpers.trainable_values(model)])
    # Keras' EMA copies the weights after the first step, then averages.
    expected = raw[0]
    for step in raw[1:]:
        expected = [momentum * a + (1 - momentum) * w for a, w in zip(expected, step)]
    for average, value in zip(helpers.optimizer_averages(model), expected):
        np.testing.assert_allclose(average, value, rtol=1e-5, atol=1e-7)
    assert helpers.any_differ(helpers.optimizer_averages(model), helpers.trainable_values(model))
    assert training.use_ema_weights(model)
    helpers.assert_all_equal(helpers.trainable_values(model), helpers.optimizer_averages(model))
    assert not training.make_optimizer().use_ema
    with pytest.raises(ValueError, match="ema_momentum"):
        training.make_optimizer(ema_momentum=1.0)
    with pytest.raises(ValueError, match="sgd"):
        training.make_optimizer(name="sgd")
