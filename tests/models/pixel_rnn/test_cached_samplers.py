"""The cached samplers of the Row LSTM and the Diagonal BiLSTM: the same
network at every sub-pixel, the same draws as the naive sampler (the checks
are shared with the PixelCNN's sampler, in tests/helpers.py)."""

import pytest

from pixel_keras.models.pixel_rnn import diagonal_bilstm_sampler
from pixel_keras.models.pixel_rnn import row_lstm_sampler
from tests import helpers

SAMPLERS = {"row_lstm": row_lstm_sampler, "diagonal_bilstm": diagonal_bilstm_sampler}


@pytest.fixture(
    scope="module",
    params=[(kind, config) for kind in SAMPLERS for config in helpers.SUBPIXEL_CONFIGS],
    ids=lambda param: "-".join(param),
)
def model(request):
    return helpers.subpixel_model_of_config(*request.param)


def test_cached_logits_equal_the_network_on_any_image(model):
    helpers.assert_cached_logits_equal_the_network(model, SAMPLERS[model.kind])


def test_cached_and_naive_samples_are_identical(model):
    helpers.assert_cached_and_naive_samples_identical(model, SAMPLERS[model.kind])


@pytest.mark.parametrize(
    "model",
    # The grey models with labels have the costliest naive completions
    # (about 8 s each on 2 cores): with -m slow; their samples are compared
    # in the default run.
    [
        pytest.param((kind, config), marks=[pytest.mark.slow] if config == "grey_classes" else [])
        for kind in SAMPLERS
        for config in helpers.SUBPIXEL_CONFIGS
    ],
    ids=lambda param: "-".join(param),
    indirect=True,
)
def test_cached_and_naive_completions_are_identical(model):
    helpers.assert_cached_and_naive_completions_identical(model)


@pytest.mark.parametrize("config", sorted(helpers.SUBPIXEL_CONFIGS))
def test_row_lstm_known_row_equals_the_pixel_passes(config):
    # The Diagonal BiLSTM has no `known_row`: its forward state reads the
    # pixel to the left, so its known rows run the per-pixel passes.
    model = helpers.subpixel_model_of_config("row_lstm", config)
    helpers.assert_known_row_equals_the_pixel_passes(model, row_lstm_sampler._RowLSTMNetwork)


@pytest.mark.parametrize("kind", sorted(SAMPLERS))
def test_cached_loop_traces_with_one_image_and_with_an_unknown_batch(kind):
    # A fresh model, so that the first trace has a batch of 1.
    model = helpers.subpixel_model_of_config(kind, "grey_classes")
    helpers.assert_cached_loop_traces_with_one_image_and_an_unknown_batch(model)


@pytest.mark.parametrize("kind", sorted(SAMPLERS))
def test_cached_sampler_reads_embedded_pixels_and_condition_values(kind):
    helpers.assert_cached_sampler_reads_embedded_pixels_and_condition_values(
        kind, SAMPLERS[kind]
    )
