"""A PixelSNAIL trained by `fit` on two replicas (two logical CPU devices)
gives the losses of one device on the same global batches: the attention's
per-image softmax and its dropout-free weights split like the rest."""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from tests import helpers

_MIRRORED_SCRIPT = textwrap.dedent(
    """
    import json
    from pixel_keras.training import distribute
    distribute.split_cpu(2)
    import keras
    from pixel_keras import data
    from pixel_keras.models import PixelSNAIL

    images, labels = data.images_and_labels(data.load("digits").train, limit=64)
    batch = {"images": images.astype("float32"), "condition": labels.astype("int32")}

    def losses(strategy):
        keras.utils.set_random_seed(0)
        with strategy.scope():
            model = PixelSNAIL.from_preset(
                "tiny", num_filters=8, key_dim=4, value_dim=8, num_logistic_mix=2,
                dropout=0.0, num_classes=10)
            model.compile(optimizer=keras.optimizers.Adam(3e-3))
        history = model.fit(batch, batch_size=16, epochs=3, shuffle=False, verbose=0)
        return strategy.num_replicas_in_sync, history.history["loss"]

    mirrored = distribute.make_strategy("mirrored")
    single = distribute.make_strategy("one_device")
    print(json.dumps({"mirrored": losses(mirrored), "single": losses(single)}))
    """
)


@pytest.mark.slow
def test_mirrored_on_two_cpu_devices_matches_one_device():
    run = subprocess.run(
        [sys.executable, "-c", _MIRRORED_SCRIPT],
        cwd=helpers.ROOT,
        env=helpers.subprocess_env(PYTHONPATH=helpers.ROOT),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    (replicas, mirrored), (one, single) = result["mirrored"], result["single"]
    assert replicas == 2 and one == 1
    assert mirrored[-1] < mirrored[0]
    np.testing.assert_allclose(mirrored, single, rtol=2e-4)
