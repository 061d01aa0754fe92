"""Weight-normalized softmax models (the Gated PixelCNN and the PixelCNN):
causality, the data-dependent initialization, config and saving, the
cached samplers, and training."""

import numpy as np
import pytest

from pixel_keras import data
from pixel_keras import training
from pixel_keras.cli import registry
from pixel_keras.cli.config import resolve
from pixel_keras.layers import weight_norm
from pixel_keras.models import GatedPixelCNN
from pixel_keras.models import PixelCNN
from tests import helpers
from tests.models.gated_pixel_cnn.test_model import assert_no_blind_spot

MODELS = {
    "gated_pixel_cnn": lambda **arguments: GatedPixelCNN.from_preset(
        "tiny", **{"num_filters": 6, "num_layers": 2, "output_filters": 12, **arguments}
    ),
    "pixel_cnn": lambda **arguments: helpers.tiny_pixel_cnn(**arguments),
}

# Every convolution of two layers and of the output stack (2): the Gated
# PixelCNN's vertical, horizontal, link, residual and skip per layer, the
# PixelCNN's input convolution and three per residual block.
NORMALIZED_LAYERS = {"gated_pixel_cnn": 2 * 5 + 2, "pixel_cnn": 1 + 3 * 2 + 2}


@pytest.mark.parametrize("family", sorted(MODELS))
def test_initialization_normalizes_every_convolution(family):
    model = MODELS[family](weight_norm=True, num_layers=2)
    assert len(weight_norm.weight_normalized_layers(model)) == NORMALIZED_LAYERS[family]
    assert not weight_norm.weight_normalized_layers(MODELS[family](num_layers=2))
    images = helpers.digits(limit=64)
    assert training.initialize_weight_norm(model, images) == NORMALIZED_LAYERS[family]
    # The logits layer's outputs on the batch: zero mean, unit variance per
    # channel, which only the data-dependent g and bias give.
    logits = model(images.astype("float32"), training=False).numpy()
    logits = logits.reshape(-1, logits.shape[-1])
    np.testing.assert_allclose(logits.mean(axis=0), 0.0, atol=1e-4)
    np.testing.assert_allclose(logits.std(axis=0), 1.0, rtol=1e-3)


def test_gated_pixel_cnn_with_weight_norm_has_no_blind_spot():
    helpers.set_random_seed(0)
    model = MODELS["gated_pixel_cnn"](
        image_shape=(5, 7, 3), num_levels=4, num_filters=12, num_layers=3,
        kernel_size=5, output_filters=24, weight_norm=True,
    )
    images = np.random.default_rng(0).integers(0, 4, size=(12, 5, 7, 3))
    training.initialize_weight_norm(model, images)
    helpers.perturb_weights(model, 0.3)
    assert_no_blind_spot(helpers.subpixel_dependencies(model, images))


@pytest.mark.parametrize("family", sorted(MODELS))
def test_config_and_keras_file_round_trip(family, tmp_path):
    images = helpers.digits(limit=16)
    model = MODELS[family](weight_norm=True)
    training.initialize_weight_norm(model, images)
    assert model.get_config()["weight_norm"] is True
    assert MODELS[family]().get_config()["weight_norm"] is False
    checked = helpers.check_model(model, images, tmp_path=tmp_path)
    for other in (checked.clone, checked.loaded):
        assert len(weight_norm.weight_normalized_layers(other)) == len(
            weight_norm.weight_normalized_layers(model)
        )


@pytest.mark.parametrize("family", sorted(MODELS))
def test_cached_samplers_read_the_effective_kernels(family):
    model = MODELS[family](image_shape=(4, 5, 3), num_levels=6, weight_norm=True)
    images = np.random.default_rng(1).integers(0, 6, size=(16, 4, 5, 3))
    training.initialize_weight_norm(model, images)
    cached = model.sample(3, seed=7, method="cached").numpy()
    naive = model.sample(3, seed=7, method="naive").numpy()
    np.testing.assert_array_equal(cached, naive)


def test_fit_lowers_the_loss_with_weight_norm():
    images = helpers.digits(limit=256)
    model = MODELS["gated_pixel_cnn"](weight_norm=True)
    training.initialize_weight_norm(model, images[:64])
    model.compile(optimizer="adam")
    before = float(model.evaluate(images, batch_size=64, verbose=0))
    model.fit(images, batch_size=32, epochs=3, verbose=0)
    assert float(model.evaluate(images, batch_size=64, verbose=0)) < before - 0.2


@pytest.mark.parametrize("family", sorted(MODELS))
def test_the_weight_norm_flag_reaches_the_model(family, tmp_path):
    for flag in (True, False):
        config = resolve(
            helpers.run_config(tmp_path, model=family, weight_norm=flag, num_filters=8)
        )
        model = registry.build_model(config, data.load("digits"))
        assert model.weight_norm is flag
        assert bool(weight_norm.weight_normalized_layers(model)) is flag
