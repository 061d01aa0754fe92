"""A weight-normalized PixelCNN++: causality, config and saving, the cached
sampler."""

import itertools

import numpy as np

from pixel_keras import training
from pixel_keras.layers import weight_norm
from tests import helpers


def test_weight_normalized_model_is_autoregressive_by_gradients():
    # Two resolutions: strided and transposed convolutions; 3 channels.
    model = helpers.tiny_pixel_cnn_pp(image_shape=(4, 4, 3), num_levels=256, weight_norm=True)
    x = np.random.default_rng(0).integers(0, 256, size=(4, 4, 4, 3)).astype("float32")
    training.initialize_weight_norm(model, x)
    maps = helpers.input_gradient_maps(model, x[:1], itertools.product(range(4), range(4)))
    helpers.assert_raster_causal(maps, 4)


def test_config_and_keras_file_round_trip_keep_log_prob(tmp_path):
    images = helpers.digits(limit=16)
    model = helpers.tiny_pixel_cnn_pp(weight_norm=True)
    training.initialize_weight_norm(model, images)
    assert model.get_config()["weight_norm"] is True
    assert helpers.tiny_pixel_cnn_pp().get_config()["weight_norm"] is False
    checked = helpers.check_model(model, images, tmp_path=tmp_path)
    for other in (checked.clone, checked.loaded):
        assert len(weight_norm.weight_normalized_layers(other)) == len(
            weight_norm.weight_normalized_layers(model)
        )


def test_cached_sampler_reads_the_effective_kernels():
    model = helpers.tiny_pixel_cnn_pp(image_shape=(4, 4, 1), weight_norm=True)
    training.initialize_weight_norm(model, helpers.digits(limit=64)[:, :4, :4])
    cached = model.sample(2, seed=7, method="cached").numpy()
    naive = model.sample(2, seed=7, method="naive").numpy()
    np.testing.assert_array_equal(cached, naive)
