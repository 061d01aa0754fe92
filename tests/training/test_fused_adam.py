"""`FusedAdam` computes what `keras.optimizers.Adam` computes, in one kernel
per variable, and falls back to Keras' update where the kernel does not
apply."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from pixel_keras import training
from pixel_keras.optimizers.fused_adam import FusedAdam
from tests import helpers


def _train(optimizer, make_model, images, steps=4):
    helpers.set_random_seed(9)
    model = make_model()
    model.compile(optimizer=optimizer)
    for _ in range(steps):
        model.train_on_batch(images)
    return model


@pytest.mark.parametrize(
    "make_model",
    [
        pytest.param(
            lambda: helpers.tiny_pixel_cnn_pp(image_shape=(4, 4, 1)),
            marks=pytest.mark.slow,  # about 16 s; the embedding case has dense weights too
        ),
        # An embedding's gradient is sparse: Keras' own update runs for it.
        lambda: helpers.tiny_pixel_cnn(
            image_shape=(4, 4, 1), num_levels=17, input_encoding="embedding"
        ),
    ],
    ids=["pixel_cnn_pp", "pixel_cnn_embedding"],
)
def test_fused_adam_trains_as_keras_adam(make_model):
    images = np.random.default_rng(0).integers(0, 17, (8, 4, 4, 1)).astype(np.float32)
    options = dict(learning_rate=3e-3, beta_1=0.95, beta_2=0.9995)
    fused = _train(FusedAdam(**options), make_model, images)
    plain = _train(keras.optimizers.Adam(**options), make_model, images)
    # The same sums in one kernel: they differ by float rounding, which
    # Adam's m / sqrt(v) carries into a step of about the learning rate
    # (measured: 6e-7 after 4 steps of 3e-3, 1.2e-2 in all).
    for a, b in zip(fused.weights, plain.weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=3e-6, err_msg=a.path)
    moved = [
        not np.allclose(a.numpy(), b.numpy())
        for a, b in zip(fused.weights, make_model().weights)
    ]
    assert any(moved)
    # The same state: a checkpoint of either restores into the other.
    assert fused.optimizer.name == "adam"
    assert [v.path.split("/", 1)[1] for v in fused.optimizer.variables] == [
        v.path.split("/", 1)[1] for v in plain.optimizer.variables
    ]
    # The moments follow the gradients at those slightly different weights.
    for a, b in zip(fused.optimizer.variables, plain.optimizer.variables):
        scale = float(np.abs(b.numpy()).max())
        np.testing.assert_allclose(
            a.numpy(), b.numpy(), rtol=1e-3, atol=1e-3 * scale, err_msg=a.path
        )


@pytest.mark.slow  # a fit and a .keras round trip: about 10 s
def test_make_optimizer_gives_fused_adam_with_ema_and_decay_that_round_trips(tmp_path):
    optimizer = training.make_optimizer(1e-3, ema_momentum=0.5)
    assert isinstance(optimizer, FusedAdam)
    model = helpers.tiny_pixel_cnn_pp(image_shape=(4, 4, 1))
    model.compile(optimizer=optimizer)
    images = np.random.default_rng(1).integers(0, 17, (8, 4, 4, 1)).astype(np.float32)
    model.fit(images, batch_size=4, epochs=1, verbose=0)
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded.optimizer, FusedAdam)
    assert loaded.optimizer.use_ema
    assert int(loaded.optimizer.iterations) == 2


def test_variables_of_a_mirrored_strategy_take_keras_update():
    from pixel_keras.optimizers.fused_adam import _plain_variable

    assert _plain_variable(tf.Variable(1.0)) is not None
    devices = tf.config.list_logical_devices("CPU")
    strategy = tf.distribute.MirroredStrategy([devices[0].name] * 1)
    with strategy.scope():
        mirrored = tf.Variable(1.0)
    assert _plain_variable(mirrored) is None
