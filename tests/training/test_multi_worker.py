"""Training under MultiWorkerMirroredStrategy: chief and task index,
`fit_multi_worker` against `fit`, and two local workers in sync."""

import json
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

from pixel_keras.training import distribute
from pixel_keras.training import multi_worker
from tests import helpers

ENV = helpers.subprocess_env(PYTHONPATH=helpers.ROOT)


def _progress_bar_losses(output):
    """The loss of every epoch, as Keras' progress bar last shows it.

    Args:
        output: the stdout of a run of two epochs or more, with `verbose=1`
            (the bar redraws itself after "\\r"; log lines may come between).

    Returns:
        The losses as printed (strings), one for each "Epoch i/n" line.
    """
    losses = []
    for epoch in re.split(r"^Epoch \d+/\d+$", output, flags=re.MULTILINE)[1:]:
        shown = re.findall(r"/step - loss: ([-+.\deE]+)", epoch)
        losses.append(shown[-1] if shown else None)
    return losses


@pytest.mark.slow
def test_multi_worker_trains_in_sync_and_only_the_chief_writes(tmp_path):
    ports = [helpers.free_port(), helpers.free_port()]
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    workers = []
    for index in range(2):
        env = dict(
            ENV,
            TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}),
        )
        workers.append(
            subprocess.Popen(
                [sys.executable, "main.py", "train", "--strategy=multi_worker",
                 f"--workdir={tmp_path / f'worker{index}'}", "--epochs=2",
                 "--batch_size=32", "--num_filters=8", "--num_logistic_mix=2",
                 "--dropout=0.5", "--num_samples=2"],
                cwd=helpers.ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                text=True,
            )
        )
    outputs = []
    try:
        for worker in workers:
            output, _ = worker.communicate(timeout=300)
            assert worker.returncode == 0, output[-3000:]
            outputs.append(output)
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()

    def lines(output, prefix):
        return [line for line in output.splitlines() if line.startswith(prefix)]

    # Keras' progress bar reports both epochs, with the same losses (4
    # decimals) on both workers, and the final weights are the same.
    assert lines(outputs[0], "Epoch ") == lines(outputs[1], "Epoch ") == [
        "Epoch 1/2", "Epoch 2/2"
    ]
    losses = [_progress_bar_losses(output) for output in outputs]
    assert len(losses[0]) == 2 and None not in losses[0] and losses[0] == losses[1]
    fingerprints = [lines(output, "Weights fingerprint") for output in outputs]
    assert fingerprints[0] and fingerprints[0] == fingerprints[1]
    # Only the chief (worker 0) writes checkpoints, logs, samples, metrics.
    chief, other = tmp_path / "worker0", tmp_path / "worker1"
    assert sorted(os.listdir(chief / "checkpoints")) == [
        "epoch-0001.keras", "epoch-0002.keras"
    ]
    assert (chief / "metrics.json").exists() and (chief / "samples.png").exists()
    assert not (other / "checkpoints").exists() and not (other / "metrics.json").exists()
    assert not list(chief.glob("backup*")) and not list(other.glob("backup*"))


def test_chief_and_task_index_of_a_strategy_without_a_cluster():
    import tensorflow as tf

    for strategy in (tf.distribute.get_strategy(), distribute.make_strategy("one_device")):
        assert not multi_worker.is_multi_worker(strategy)
        assert multi_worker.is_chief(strategy) is True
        assert multi_worker.task_index(strategy) == 0


def test_fit_multi_worker_matches_fit_and_resumes_from_a_backup(tmp_path, capsys):
    # `fit_multi_worker` only needs a `tf.distribute` strategy: under the
    # default one it runs in this process, beside Keras' own `fit`. A small
    # dense model keeps it fast; the multi-process test trains PixelCNN++.
    import keras
    import tensorflow as tf

    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 4)).astype("float32")
    y = (x @ rng.normal(size=(4, 1))).astype("float32")
    strategy = tf.distribute.get_strategy()

    def compiled():
        helpers.set_random_seed(0)
        model = keras.Sequential(
            [keras.Input((4,)), keras.layers.Dense(8, activation="tanh"), keras.layers.Dense(1)]
        )
        model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
        return model

    class CopyBackup(keras.callbacks.Callback):
        # Keeps the backup written at the end of epoch 2 (of 3), as if the
        # run had been killed during epoch 3.
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                shutil.copytree(tmp_path / "backup", tmp_path / "killed")

    reference = compiled()
    expected = reference.fit(
        x, y, batch_size=8, epochs=3, shuffle=False, verbose=0,
        callbacks=[
            keras.callbacks.BackupAndRestore(str(tmp_path / "backup")), CopyBackup()
        ],
    ).history["loss"]
    batches = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)

    model = compiled()
    capsys.readouterr()
    history = multi_worker.fit_multi_worker(model, strategy, batches, epochs=3)
    output = capsys.readouterr().out
    # Keras' History and progress bar report it, as they do for `fit`.
    assert history is model.history
    assert history.epoch == [0, 1, 2]
    assert history.params == {"epochs": 3, "steps": 4, "verbose": 1}
    np.testing.assert_allclose(history.history["loss"], expected, rtol=1e-5)
    assert "Epoch 1/3" in output and "Epoch 3/3" in output
    shown = _progress_bar_losses(output)
    np.testing.assert_allclose(np.array(shown, float), history.history["loss"], atol=1e-4)
    fingerprint = multi_worker.fingerprint(model)
    assert f"Weights fingerprint (the same on every worker): {fingerprint}" in output
    for mine, theirs in zip(model.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(mine, theirs, rtol=1e-5, atol=1e-6)

    # Started again with the backup of the "killed" run, it restores the
    # state of epoch 2 and trains epoch 3 only, to the same loss.
    resumed = compiled()
    history = multi_worker.fit_multi_worker(
        resumed, strategy, batches, epochs=3,
        callbacks=[keras.callbacks.BackupAndRestore(str(tmp_path / "killed"))],
    )
    output = capsys.readouterr().out
    assert history.epoch == [2]
    np.testing.assert_allclose(history.history["loss"], expected[2:], rtol=1e-5)
    assert "Epoch 3/3" in output and "Epoch 1/3" not in output
    assert not (tmp_path / "killed").exists()
