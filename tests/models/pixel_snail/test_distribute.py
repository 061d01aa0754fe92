"""A PixelSNAIL trained by `fit` on two replicas (two logical CPU devices)
gives the losses of one device on the same global batches: the attention's
per-image softmax and its dropout-free weights split like the rest."""

import pytest

from tests import helpers


@pytest.mark.slow
def test_mirrored_on_two_cpu_devices_matches_one_device():
    helpers.assert_mirrored_fit_matches_one_device(
        "PixelSNAIL",
        {"num_filters": 8, "key_dim": 4, "value_dim": 8, "num_logistic_mix": 2, "dropout": 0.0},
        num_classes=10,
        learning_rate=3e-3,
    )
