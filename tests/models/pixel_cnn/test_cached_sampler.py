"""The PixelCNN's cached sampler: the same network at every sub-pixel, the
same draws as the naive sampler (the checks are shared with the PixelRNNs'
samplers, in tests/helpers.py)."""

import pytest

from pixel_keras.models.pixel_cnn import cached_sampler
from tests import helpers


@pytest.fixture(scope="module", params=sorted(helpers.SUBPIXEL_CONFIGS))
def model(request):
    return helpers.subpixel_model_of_config("pixel_cnn", request.param)


def test_cached_logits_equal_the_network_on_any_image(model):
    helpers.assert_cached_logits_equal_the_network(model, cached_sampler)


def test_cached_and_naive_samples_are_identical(model):
    helpers.assert_cached_and_naive_samples_identical(model, cached_sampler)


@pytest.mark.parametrize(
    "model",
    # The grey model with labels has the costliest naive completion (about
    # 6 s on 2 cores): with -m slow; its samples are compared by default.
    [
        pytest.param(config, marks=[pytest.mark.slow] if config == "grey_classes" else [])
        for config in sorted(helpers.SUBPIXEL_CONFIGS)
    ],
    indirect=True,
)
def test_cached_and_naive_completions_are_identical(model):
    helpers.assert_cached_and_naive_completions_identical(model)


def test_known_row_equals_the_pixel_passes(model):
    helpers.assert_known_row_equals_the_pixel_passes(model, cached_sampler._PixelCNNNetwork)


def test_cached_loop_traces_with_one_image_and_with_an_unknown_batch():
    # A fresh model, so that the first trace has a batch of 1.
    model = helpers.subpixel_model_of_config("pixel_cnn", "grey_classes")
    helpers.assert_cached_loop_traces_with_one_image_and_an_unknown_batch(model)


def test_cached_sampler_reads_embedded_pixels_and_condition_values():
    helpers.assert_cached_sampler_reads_embedded_pixels_and_condition_values(
        "pixel_cnn", cached_sampler
    )
