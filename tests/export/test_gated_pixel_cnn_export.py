"""A Gated PixelCNN exports like the other families: its signatures,
loaded in a fresh process that imports TensorFlow only (no Keras, no
pixel_keras), give the in-memory model's log-likelihoods and samples."""

import types

import numpy as np
import pytest

from pixel_keras.models import GatedPixelCNN
from pixel_keras.serving import SIGNATURE_NAMES
from pixel_keras.serving import export_model
from tests import helpers


@pytest.mark.slow  # an export and a fresh TensorFlow process: about 35 s on 2 cores
def test_gated_pixel_cnn_served_without_pixel_keras_equals_the_model(tmp_path):
    helpers.set_random_seed(11)
    # RGB and class labels: the channel masks and the condition input.
    model = GatedPixelCNN.from_preset(
        "tiny", num_filters=6, num_layers=2, output_filters=8,
        image_shape=(4, 4, 3), num_classes=3,
    )
    helpers.perturb_weights(model, 0.3)
    path = export_model(model, str(tmp_path / "models"), "gated_pixel_cnn", warmup=False)
    exported = {"gated_pixel_cnn": types.SimpleNamespace(model=model, path=path)}
    served_dir = tmp_path / "served"
    served_dir.mkdir()
    outputs = helpers.serve_in_fresh_process(exported, str(served_dir))[
        "gated_pixel_cnn"
    ].outputs
    base = helpers.base_inputs(model)
    labels = base["condition"]
    assert sorted(outputs["signatures"]) == sorted(SIGNATURE_NAMES)

    log_prob = outputs["log_prob--batch"]
    np.testing.assert_allclose(
        log_prob["log_prob_nats"], model.log_prob(base["images"], labels).numpy(),
        rtol=1e-5, atol=1e-5,
    )
    np.testing.assert_allclose(
        log_prob["bits_per_dim"], model.bits_per_dim(base["images"], labels).numpy(),
        rtol=1e-5, atol=1e-6,
    )

    samples = outputs["serving_default--batch"]["images"]
    assert samples.dtype == np.uint8 and samples.shape == (3, 4, 4, 3)
    assert samples.max() <= model.num_levels - 1
    np.testing.assert_array_equal(
        samples, model.sample(3, seed=base["seed"], condition=labels).numpy()
    )
    assert outputs["serving_default--single"]["images"].shape == (1, 4, 4, 3)
    completed = outputs["complete--batch"]["images"]
    np.testing.assert_array_equal(
        completed,
        model.complete(
            base["images"], base["known_mask"] != 0, seed=base["seed"], condition=labels
        ).numpy(),
    )
