"""Backups: they restore the optimizer state and the EMA weights, and a run
killed mid-epoch continues from its backup. Checkpoints: a damaged one is
named as such, skipped for the newest intact one, and never deleted or
overwritten."""

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


# Damaged checkpoints: named as such, skipped for the newest intact one,
# never deleted or overwritten.


@pytest.fixture(scope="module")
def checkpoint_bytes(tmp_path_factory):
    """The bytes of a tiny compiled PixelCNN's `.keras` file."""
    import keras

    path = tmp_path_factory.mktemp("checkpoint") / "model.keras"
    model = helpers.tiny_pixel_cnn()
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    model.save(str(path))
    return path.read_bytes()


def _write_checkpoints(workdir, **files):
    """Writes `workdir/checkpoints/<name>.keras` for each name=bytes."""
    folder = workdir / "checkpoints"
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (folder / f"{name}.keras").write_bytes(content)
    return folder


def _flip_a_byte(content):
    changed = bytearray(content)
    changed[len(changed) // 2] ^= 0xFF
    return bytes(changed)


def test_checkpoint_problem_finds_cut_and_changed_files(checkpoint_bytes, tmp_path):
    from pixel_keras.training import checkpointing

    folder = _write_checkpoints(
        tmp_path,
        whole=checkpoint_bytes,
        cut=checkpoint_bytes[: len(checkpoint_bytes) // 2],
        empty=b"",
        changed=_flip_a_byte(checkpoint_bytes),
    )
    assert checkpointing.checkpoint_problem(str(folder / "whole.keras")) is None
    assert "not a zip file" in checkpointing.checkpoint_problem(str(folder / "cut.keras"))
    assert "not a zip file" in checkpointing.checkpoint_problem(str(folder / "empty.keras"))
    assert "model.weights.h5" in checkpointing.checkpoint_problem(str(folder / "changed.keras"))


def test_load_checkpoint_says_damaged_or_truncated_and_not_found(checkpoint_bytes, tmp_path):
    from pixel_keras import training
    from pixel_keras.training import checkpointing

    folder = _write_checkpoints(tmp_path, cut=checkpoint_bytes[:-100])
    path = str(folder / "cut.keras")
    with pytest.raises(checkpointing.DamagedCheckpointError) as error:
        training.load_checkpoint(path)
    message = str(error.value)
    assert f"{path!r} is damaged or truncated: BadZipFile: File is not a zip file" in message
    assert "File not found" not in message
    with pytest.raises(FileNotFoundError, match="No checkpoint at .*missing.keras"):
        training.load_checkpoint(str(folder / "missing.keras"))


def test_load_checkpoint_says_when_keras_cannot_load_a_whole_file(checkpoint_bytes, tmp_path):
    import io
    import json
    import zipfile

    from pixel_keras import training
    from pixel_keras.training import checkpointing

    # A whole archive (every CRC-32 right) of a model class no one registered.
    changed = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(checkpoint_bytes)) as source, zipfile.ZipFile(
        changed, "w"
    ) as target:
        for member in source.infolist():
            content = source.read(member.filename)
            if member.filename == "config.json":
                config = json.loads(content)
                config.update(module="elsewhere", registered_name="elsewhere>Unknown")
                content = json.dumps(config).encode()
            target.writestr(member, content)
    path = tmp_path / "unknown.keras"
    path.write_bytes(changed.getvalue())
    assert checkpointing.checkpoint_problem(str(path)) is None
    with pytest.raises(checkpointing.CheckpointError) as error:
        training.load_checkpoint(str(path))
    assert not isinstance(error.value, checkpointing.DamagedCheckpointError)
    assert f"{str(path)!r} could not be loaded by Keras: TypeError" in str(error.value)


def test_load_latest_checkpoint_skips_damaged_ones_with_a_warning(
    checkpoint_bytes, tmp_path, caplog
):
    from pixel_keras.training import checkpointing

    folder = _write_checkpoints(
        tmp_path,
        **{
            "epoch-0001": checkpoint_bytes,
            "epoch-0002": checkpoint_bytes[: len(checkpoint_bytes) // 2],
            "epoch-0003": _flip_a_byte(checkpoint_bytes),
        },
    )
    before = {path.name: path.read_bytes() for path in folder.iterdir()}
    epoch, path, model = checkpointing.load_latest_checkpoint(str(tmp_path))
    assert (epoch, path) == (1, str(folder / "epoch-0001.keras"))
    assert model.image_shape == (8, 8, 1)
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1
    assert "epoch-0003.keras' is damaged or truncated (its member" in warnings[0]
    assert "epoch-0002.keras' is damaged or truncated (BadZipFile" in warnings[0]
    assert "epoch-0001.keras' (epoch 1), the newest intact checkpoint" in warnings[0]
    assert {path.name: path.read_bytes() for path in folder.iterdir()} == before


def test_load_latest_checkpoint_names_every_file_when_none_is_intact(
    checkpoint_bytes, tmp_path
):
    from pixel_keras.training import checkpointing

    folder = _write_checkpoints(
        tmp_path,
        **{"epoch-0001": b"not a zip", "epoch-0002": checkpoint_bytes[:1000]},
    )
    with pytest.raises(checkpointing.NoIntactCheckpointError) as error:
        checkpointing.load_latest_checkpoint(str(tmp_path))
    message = str(error.value)
    assert f"No intact checkpoint in {str(folder)!r}: tried 2, newest first" in message
    assert message.index("epoch-0002.keras") < message.index("epoch-0001.keras")
    assert message.count("is damaged or truncated (BadZipFile: File is not a zip file)") == 2
    assert [failure.path for failure in error.value.failures] == [
        str(folder / "epoch-0002.keras"), str(folder / "epoch-0001.keras")
    ]


def test_writer_renames_a_damaged_file_in_its_way_and_prunes_only_intact_ones(
    checkpoint_bytes, tmp_path, caplog
):
    from pixel_keras.training import checkpointing

    damaged = {
        "epoch-0002": checkpoint_bytes[: len(checkpoint_bytes) // 2],
        "epoch-0004": b"",
    }
    folder = _write_checkpoints(
        tmp_path, **{"epoch-0001": checkpoint_bytes, "epoch-0003": checkpoint_bytes}, **damaged
    )
    # An earlier file moved aside keeps its name: the next is `.damaged-2`.
    (folder / "epoch-0004.keras.damaged-1").write_bytes(b"older")
    writer = checkpointing.AtomicModelCheckpoint(str(tmp_path), max_to_keep=2)
    writer.set_model(helpers.tiny_pixel_cnn())
    writer.on_epoch_end(3)  # writes epoch-0004.keras
    writer.on_epoch_end(4)  # writes epoch-0005.keras
    names = sorted(path.name for path in folder.iterdir())
    # Kept: the newest 2 intact ones (5, 4) and every damaged file; pruned:
    # the intact epochs 1 and 3.
    assert names == [
        "epoch-0002.keras",
        "epoch-0004.keras",
        "epoch-0004.keras.damaged-1",
        "epoch-0004.keras.damaged-2",
        "epoch-0005.keras",
    ]
    assert (folder / "epoch-0002.keras").read_bytes() == damaged["epoch-0002"]
    assert (folder / "epoch-0004.keras.damaged-2").read_bytes() == damaged["epoch-0004"]
    assert (folder / "epoch-0004.keras.damaged-1").read_bytes() == b"older"
    assert checkpointing.checkpoint_problem(str(folder / "epoch-0004.keras")) is None
    assert [epoch for epoch, _ in checkpointing.checkpoints(str(tmp_path))] == [2, 4, 5]
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("epoch-0004.keras.damaged-2" in warning for warning in warnings)
