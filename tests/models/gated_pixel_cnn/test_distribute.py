"""A Gated PixelCNN trained by `fit` on two replicas (two logical CPU
devices) gives the losses of one device on the same global batches."""

import pytest

from tests import helpers


@pytest.mark.slow
def test_mirrored_on_two_cpu_devices_matches_one_device():
    helpers.assert_mirrored_fit_matches_one_device(
        "GatedPixelCNN",
        {"num_filters": 8, "num_layers": 2, "output_filters": 16},
        num_classes=10,
        learning_rate=3e-3,
    )
