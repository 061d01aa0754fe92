"""A model trained by `fit` on two replicas (two logical CPU devices) gives
the losses of one device on the same global batches."""

import json
import subprocess
import sys
import textwrap

import numpy as np

from tests.helpers.processes import ROOT
from tests.helpers.processes import subprocess_env

# Runs in a fresh process: the CPU must be split into two logical devices
# before TensorFlow starts.
_SCRIPT = textwrap.dedent(
    """
    import json
    from pixel_keras.training import distribute
    distribute.split_cpu(2)
    import keras
    from pixel_keras import data
    from pixel_keras import models

    images, labels = data.images_and_labels(data.load("digits").train, limit=64)
    conditional = {conditional}
    batch = images.astype("float32")
    if conditional:
        batch = {{"images": batch, "condition": labels.astype("int32")}}

    def losses(strategy):
        keras.utils.set_random_seed(0)
        with strategy.scope():
            model = models.{model_class}.from_preset("tiny", **{arguments})
            model.compile(optimizer=keras.optimizers.Adam({learning_rate}))
        history = model.fit(batch, batch_size=16, epochs=3, shuffle=False, verbose=0)
        return strategy.num_replicas_in_sync, history.history["loss"]

    mirrored = distribute.make_strategy("mirrored")
    single = distribute.make_strategy("one_device")
    print(json.dumps({{"mirrored": losses(mirrored), "single": losses(single)}}))
    """
)


def assert_mirrored_fit_matches_one_device(
    model_class, arguments, *, num_classes=None, learning_rate=1e-3, env=None
):
    """Trains `models.<model_class>.from_preset("tiny", **arguments)` for three
    epochs of the same 64 digits under a two-replica `MirroredStrategy` and
    on one device, in a subprocess, and checks that the losses go down and
    agree up to the order of float additions.

    Args:
        model_class: str, the name of a class in `pixel_keras.models`.
        arguments: dict of constructor arguments (Python literals).
        num_classes: None, or 10 for a model conditioned on the digits'
            labels.
        learning_rate: float, Adam's.
        env: the subprocess's environment (default: `subprocess_env`).
    """
    if num_classes is not None:
        arguments = dict(arguments, num_classes=num_classes)
    script = _SCRIPT.format(
        model_class=model_class,
        arguments=repr(arguments),
        conditional=num_classes is not None,
        learning_rate=learning_rate,
    )
    run = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env or subprocess_env(PYTHONPATH=ROOT),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    (replicas, mirrored), (one, single) = result["mirrored"], result["single"]
    assert replicas == 2 and one == 1
    assert mirrored[-1] < mirrored[0]
    # The same global batch split over two replicas: the same losses, up to
    # the order of float additions.
    np.testing.assert_allclose(mirrored, single, rtol=2e-4)
