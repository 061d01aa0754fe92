"""A weight-normalized PixelSNAIL (`weight_norm=True`): the data-dependent
initialization reaches every normalized layer, the cached sampler reads the
effective kernels, saving keeps it, and `--weight_norm` reaches it."""

import numpy as np
import pytest

from pixel_keras import data
from pixel_keras import training
from pixel_keras.cli import registry
from pixel_keras.cli.config import resolve
from pixel_keras.layers import weight_norm
from pixel_keras.models import PixelSNAIL
from tests import helpers


def _model(**overrides):
    config = dict(
        num_filters=8, key_dim=4, value_dim=6, num_logistic_mix=2, dropout=0.0, weight_norm=True
    )
    config.update(overrides)
    helpers.set_random_seed(0)
    return PixelSNAIL.from_preset("tiny", **config)


def _initialized(model, seed=0, condition=None):
    images = np.random.default_rng(seed).integers(0, model.num_levels, (16, *model.image_shape))
    count = training.initialize_weight_norm(model, images.astype("float32"), condition)
    return model, images, count


# Per gated block two convolutions, and the merge blocks' skip projections;
# the stem's two convolutions; the head: the mixture's dense layer, or the
# output stack's two 1 x 1s and, for colour, the pixel's mask-A 1 x 1.
@pytest.mark.parametrize(
    "overrides, num_normalized, head_layer",
    [
        (dict(image_shape=(4, 4, 1), num_levels=17), 2 * 8 + 2 + 2 + 1, "distribution_params"),
        (
            dict(image_shape=(3, 4, 3), num_levels=6, head="categorical", input_encoding="one_hot"),
            2 * 8 + 2 + 2 + 3,
            "logits",
        ),
    ],
    ids=["mixture", "categorical_rgb"],
)
def test_initialization_normalizes_every_layer_up_to_the_head(
    overrides, num_normalized, head_layer
):
    model, images, count = _initialized(_model(**overrides))
    assert count == num_normalized == len(weight_norm.weight_normalized_layers(model))
    # The head is initialized last, on what every earlier layer produces:
    # its outputs on the batch have mean 0 and variance 1 per channel.
    outputs = model(model.make_inputs(images), training=False).numpy()
    assert model.get_layer(head_layer).weight_norm
    flat = outputs.reshape(-1, outputs.shape[-1])
    np.testing.assert_allclose(flat.mean(axis=0), 0.0, atol=1e-3)
    np.testing.assert_allclose(flat.std(axis=0), 1.0, atol=1e-2)


@pytest.mark.parametrize(
    "overrides",
    [
        dict(image_shape=(4, 4, 3), num_levels=16, num_classes=3),
        dict(image_shape=(4, 4, 2), num_levels=6, head="categorical", input_encoding="embedding"),
    ],
    ids=["mixture_rgb_classes", "categorical"],
)
def test_cached_sampler_reads_the_effective_kernels(overrides):
    model = _model(**overrides)
    condition = helpers.class_labels(model, 16)
    model, _, _ = _initialized(model, condition=condition)
    seeds = np.array([[0, 7], [1, 8]], np.int32)
    condition = helpers.class_labels(model, 2)
    cached = model.sample(2, seed=seeds, condition=condition, method="cached").numpy()
    naive = model.sample(2, seed=seeds, condition=condition, method="naive").numpy()
    np.testing.assert_array_equal(cached, naive)
    assert len(np.unique(cached)) > 2


def test_config_and_keras_file_round_trip(tmp_path):
    # Every new argument at once: a categorical head on embedded codes,
    # conditioned on a map, weight-normalized.
    model = _model(
        image_shape=(4, 4, 1),
        num_levels=9,
        head="categorical",
        input_encoding="embedding",
        embedding_dim=3,
        output_filters=10,
        conditional_shape=(2, 2, 2),
    )
    maps = np.random.default_rng(1).normal(size=(16, 2, 2, 2)).astype(np.float32)
    model, images, _ = _initialized(model, condition=maps)
    config = model.get_config()
    assert (config["head"], config["input_encoding"], config["weight_norm"]) == (
        "categorical",
        "embedding",
        True,
    )
    assert PixelSNAIL.from_preset("tiny").get_config()["weight_norm"] is False
    checked = helpers.check_model(model, images[:3], maps[:3], tmp_path=tmp_path)
    for other in (checked.clone, checked.loaded):
        assert len(weight_norm.weight_normalized_layers(other)) == len(
            weight_norm.weight_normalized_layers(model)
        )


@pytest.mark.parametrize("flag", [True, False])
def test_the_weight_norm_flag_reaches_the_model(tmp_path, flag):
    config = resolve(
        helpers.run_config(
            tmp_path, model="pixel_snail", weight_norm=flag, num_filters=8, dropout=0.0
        )
    )
    model = registry.build_model(config, data.load("digits"))
    assert isinstance(model, PixelSNAIL) and model.weight_norm is flag
    assert bool(weight_norm.weight_normalized_layers(model)) is flag
