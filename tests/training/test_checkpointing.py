"""Backups: they restore the optimizer state and the EMA weights, and a run
killed mid-epoch continues from its backup."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from tests import helpers

ENV = helpers.subprocess_env(PYTHONPATH=helpers.ROOT)


def test_backup_restores_optimizer_state_and_ema_weights(tmp_path):
    import keras

    from pixel_keras import data
    from pixel_keras.models import PixelCNNPlusPlus

    images, _ = data.images_and_labels(data.load("digits").train, limit=32)
    images = images.astype("float32")

    def compiled():
        model = PixelCNNPlusPlus.from_preset("tiny", num_filters=8, num_logistic_mix=2)
        model.compile(optimizer=keras.optimizers.Adam(1e-3, use_ema=True, ema_momentum=0.9))
        return model

    class Snapshot(keras.callbacks.Callback):
        # What the backup holds: the state at the last epoch's end (after
        # it, Keras' fit swaps the EMA values into the model).
        def on_epoch_end(self, epoch, logs=None):
            self.weights = [w.copy() for w in self.model.get_weights()]
            self.optimizer = [v.numpy().copy() for v in self.model.optimizer.variables]

    trained, snapshot = compiled(), Snapshot()
    backup = keras.callbacks.BackupAndRestore(str(tmp_path / "backup"), delete_checkpoint=False)
    trained.fit(images, batch_size=16, epochs=2, callbacks=[backup, snapshot], verbose=0)

    restored = compiled()
    backup = keras.callbacks.BackupAndRestore(str(tmp_path / "backup"), delete_checkpoint=False)
    backup.set_model(restored)
    backup.on_train_begin()
    assert restored._initial_epoch == 2
    # The EMA weights are optimizer variables, so the backup holds them.
    assert any("average" in variable.path for variable in restored.optimizer.variables)
    assert len(restored.optimizer.variables) == len(snapshot.optimizer)
    for mine, theirs in zip(restored.optimizer.variables, snapshot.optimizer):
        np.testing.assert_array_equal(mine.numpy(), theirs, err_msg=mine.path)
    for mine, theirs in zip(restored.get_weights(), snapshot.weights):
        np.testing.assert_array_equal(mine, theirs)


def _train_command(workdir):
    return [
        sys.executable, "main.py", "train", f"--workdir={workdir}", "--epochs=2",
        "--batch_size=32", "--backup_steps=5", "--num_filters=8",
        "--num_logistic_mix=2", "--num_samples=2",
    ]


@pytest.mark.slow
def test_killed_run_continues_from_its_backup(tmp_path):
    workdir = tmp_path / "run"
    metadata = workdir / "backup" / "training_metadata.json"
    process = subprocess.Popen(
        _train_command(workdir), cwd=helpers.ROOT, env=ENV,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    # Kill it in the middle of the second epoch, after a backup there.
    deadline = time.time() + 240
    killed_at = None
    while time.time() < deadline and process.poll() is None:
        try:
            state = json.loads(metadata.read_text())
        except (OSError, ValueError):
            state = None
        if state and state["epoch"] == 1 and state["batch"] > 0:
            process.send_signal(signal.SIGKILL)
            killed_at = state
            break
        time.sleep(0.02)
    process.wait()
    assert killed_at is not None, "the run ended before a mid-epoch backup"
    assert process.returncode == -signal.SIGKILL
    assert not (workdir / "metrics.json").exists()

    again = subprocess.run(
        _train_command(workdir), cwd=helpers.ROOT, env=ENV, capture_output=True,
        text=True, timeout=300,
    )
    assert again.returncode == 0, again.stderr[-3000:]
    assert "Continuing the interrupted run" in again.stdout
    # It starts again at the unfinished epoch (the second), not at the first.
    assert "Epoch 2/2" in again.stdout and "Epoch 1/2" not in again.stdout
    assert not (workdir / "backup").exists()
    metrics = json.loads((workdir / "metrics.json").read_text())
    assert np.isfinite(metrics["test_bits_per_dim"])
    names = sorted(os.listdir(workdir / "checkpoints"))
    assert names == ["epoch-0001.keras", "epoch-0002.keras"]
    # The optimizer state came back with the weights: its step count goes on
    # from the backup's (epoch 1 and `batch + 1` steps of epoch 2) through
    # the repeated epoch 2; a fresh optimizer would count one epoch only.
    from pixel_keras import training

    model = training.load_checkpoint(str(workdir / "checkpoints" / names[-1]))
    steps_per_epoch = -(-1500 // 32)
    iterations = int(model.optimizer.iterations.numpy())
    assert iterations >= 2 * steps_per_epoch + killed_at["batch"] + 1
    weights = np.concatenate([w.ravel() for w in model.get_weights()])
    assert np.all(np.isfinite(weights))
