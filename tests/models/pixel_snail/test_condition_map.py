"""PixelSNAIL conditioned on a spatial map (`conditional_shape=(h, w, c)`,
as a VQ-VAE-2 bottom prior on the top codes): where the map reaches, the
named errors, and the cached sampler against the naive one."""

import numpy as np
import pytest

from pixel_keras import sampling
from pixel_keras.models import PixelSNAIL
from pixel_keras.models.pixel_snail import cached_sampler as cached
from tests import helpers


def _model(**overrides):
    config = dict(num_filters=8, key_dim=4, value_dim=6, num_logistic_mix=2, dropout=0.0)
    config.update(overrides)
    helpers.set_random_seed(0)
    return helpers.perturb_weights(PixelSNAIL.from_preset("tiny", **config), 0.05)


def _maps(model, num, seed=0):
    shape = model.conditional_shape
    return np.random.default_rng(seed).normal(size=(num, *shape)).astype(np.float32)


# A bottom prior (codes, a softmax, embedded values) on a map of half the
# size; colour with the mixture on a map that repeats along columns only.
CONFIGS = {
    "bottom_prior": dict(
        image_shape=(4, 4, 1),
        num_levels=7,
        head="categorical",
        input_encoding="embedding",
        conditional_shape=(2, 2, 3),
    ),
    "rgb_mixture": dict(image_shape=(4, 4, 3), num_levels=16, conditional_shape=(4, 2, 2)),
}


@pytest.fixture(scope="module", params=sorted(CONFIGS))
def model(request):
    return _model(**CONFIGS[request.param])


def test_a_map_value_conditions_the_pixels_it_covers_and_no_earlier_one():
    model = _model(image_shape=(4, 4, 1), conditional_shape=(2, 2, 3))
    assert model.condition_map_factors == (2, 2)
    images = np.random.default_rng(0).integers(0, 17, (1, 4, 4, 1)).repeat(2, 0)
    maps = _maps(model, 1).repeat(2, 0)
    # Map cell (1, 0) covers pixels (2..3, 0..1); the first of them in
    # raster order is (2, 0), pixel 8.
    maps[1, 1, 0] += 1.0
    outputs = model(model.make_inputs(images, maps), training=False).numpy()
    difference = np.abs(outputs[0] - outputs[1]).max(axis=-1).reshape(-1)
    np.testing.assert_allclose(difference[:8], 0.0, atol=1e-6)
    assert np.all(difference[8:] > 1e-4), difference
    log_probs = model.log_prob(images, maps).numpy()
    assert abs(log_probs[0] - log_probs[1]) > 1e-3


def test_every_gated_block_reads_the_map():
    model = _model(image_shape=(4, 4, 1), num_resnet=2, conditional_shape=(2, 2, 3))
    blocks = [layer for layer in model.layers if type(layer).__name__ == "GatedResNet"]
    assert len(blocks) == 2 * (2 + 3)  # per block: the resnets, content, query, merge
    for block in blocks:
        assert block.condition_map_projection is not None, block.name
        assert block.condition_projection is None, block.name
        # To the gates: twice the block's filters (the 1 x 1 blocks are as
        # wide as their inputs).
        assert tuple(block.condition_map_projection.kernel.shape) == (3, 2 * block.filters)


def test_an_ill_shaped_map_is_a_named_error():
    with pytest.raises(ValueError, match=r"conditional_shape.*\(3, 3, 2\)"):
        _model(image_shape=(4, 4, 1), conditional_shape=(3, 3, 2))
    model = _model(image_shape=(4, 4, 1), conditional_shape=(2, 2, 3))
    images = np.zeros((2, 4, 4, 1))
    with pytest.raises(ValueError, match=r"`condition`.*\(2, 2, 2, 3\).*\(2, 2, 4, 3\)"):
        model.log_prob(images, np.zeros((2, 2, 4, 3), np.float32))
    with pytest.raises(ValueError, match="condition"):
        model.sample(2, seed=0, condition=np.zeros((2, 4, 4, 3), np.float32))


@pytest.mark.parametrize("by_rows", [False, True], ids=["by_pixels", "by_rows"])
def test_cached_outputs_equal_the_network_on_any_image(model, by_rows):
    images = np.random.default_rng(1).integers(0, model.num_levels, (3, *model.image_shape))
    maps = _maps(model, 3)
    expected = model(model.make_inputs(images, maps), training=False).numpy()
    actual = cached.outputs(model, images, maps, by_rows=by_rows).numpy()
    assert np.std(expected) > 0.05
    np.testing.assert_allclose(actual, expected, atol=1e-5, rtol=1e-5)


def test_cached_and_naive_samples_are_identical(model):
    seeds = sampling.per_image_seeds(6, 3)
    maps = _maps(model, 3, seed=1)
    naive = model.sample(3, seed=seeds, condition=maps, method="naive").numpy()
    fast = model.sample(3, seed=seeds, condition=maps, method="cached").numpy()
    np.testing.assert_array_equal(fast, naive)
    assert len(np.unique(fast)) > 2


def test_cached_and_naive_completions_are_identical():
    model = _model(**CONFIGS["bottom_prior"])
    generator = np.random.default_rng(2)
    images = generator.integers(0, model.num_levels, (2, *model.image_shape))
    known = np.zeros((2, 4, 4), bool)
    known[:, :2] = True
    known[1, 2, :3] = True
    kwargs = {"condition": _maps(model, 2, seed=2), "seed": 3, "known_mask": known}
    naive = model.complete(images, method="naive", **kwargs).numpy()
    np.testing.assert_array_equal(model.complete(images, method="cached", **kwargs).numpy(), naive)
    np.testing.assert_array_equal(naive[known], images[known])
