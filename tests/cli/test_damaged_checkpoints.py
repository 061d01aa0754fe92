"""The commands and damaged checkpoints: they fall back to the newest intact
checkpoint with a warning that names the damaged one, exit with status 2
naming every file when none is intact, and never delete or overwrite one."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from pixel_keras import training
from pixel_keras.cli import commands
from tests import helpers


@pytest.fixture(scope="module")
def checkpoint_bytes(tmp_path_factory):
    """The bytes of a tiny compiled PixelCNN (the digits' 8x8, 17 levels) as
    a `.keras` checkpoint."""
    path = tmp_path_factory.mktemp("checkpoint") / "model.keras"
    model = helpers.tiny_pixel_cnn()
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    model.save(str(path))
    return path.read_bytes()


def _workdir(tmp_path, **files):
    """A run folder with `checkpoints/<name>.keras` for each name=bytes."""
    folder = tmp_path / "run" / "checkpoints"
    folder.mkdir(parents=True)
    for name, content in files.items():
        (folder / f"{name}.keras").write_bytes(content)
    return tmp_path / "run"


def _warnings(caplog):
    return [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]


def test_commands_restore_the_newest_intact_checkpoint_with_a_warning(
    checkpoint_bytes, tmp_path, caplog
):
    cut = checkpoint_bytes[: len(checkpoint_bytes) // 2]
    workdir = _workdir(tmp_path, **{"epoch-0001": checkpoint_bytes, "epoch-0002": cut})
    model = commands.restore(helpers.run_config(workdir, model="pixel_cnn"))
    assert type(model).__name__ == "PixelCNN"
    (warning,) = _warnings(caplog)
    damaged = str(workdir / "checkpoints" / "epoch-0002.keras")
    assert f"{damaged!r} is damaged or truncated (BadZipFile" in warning
    assert "epoch-0001.keras' (epoch 1), the newest intact checkpoint" in warning
    assert (workdir / "checkpoints" / "epoch-0002.keras").read_bytes() == cut


@pytest.mark.parametrize("command", ["eval", "sample", "complete", "export"])
def test_commands_exit_2_naming_every_file_when_no_checkpoint_is_intact(
    checkpoint_bytes, tmp_path, capsys, command
):
    files = {"epoch-0001": b"", "epoch-0002": checkpoint_bytes[:-1]}
    workdir = _workdir(tmp_path, **files)
    config = helpers.run_config(workdir, model="pixel_cnn", export_dir=None)
    with pytest.raises(SystemExit) as exit_info:
        commands.run(command, config)
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    folder = workdir / "checkpoints"
    assert f"No intact checkpoint in {str(folder)!r}: tried 2, newest first" in error
    for name in ("epoch-0002.keras", "epoch-0001.keras"):
        assert f"{str(folder / name)!r} is damaged or truncated (BadZipFile" in error
    for name, content in files.items():
        assert (folder / f"{name}.keras").read_bytes() == content


def test_a_damaged_checkpoint_flag_is_an_error_that_says_so(checkpoint_bytes, tmp_path, capsys):
    workdir = _workdir(tmp_path, **{"epoch-0001": checkpoint_bytes[:100]})
    path = str(workdir / "checkpoints" / "epoch-0001.keras")
    with pytest.raises(SystemExit) as exit_info:
        commands.run("sample", helpers.run_config(workdir, checkpoint=path))
    assert exit_info.value.code == 2
    assert f"{path!r} is damaged or truncated: BadZipFile" in capsys.readouterr().err


def test_resume_past_a_damaged_checkpoint_keeps_its_bytes(
    checkpoint_bytes, tmp_path, caplog, capsys
):
    cut = checkpoint_bytes[: len(checkpoint_bytes) // 3]
    workdir = _workdir(tmp_path, **{"epoch-0001": checkpoint_bytes, "epoch-0002": cut})
    folder = workdir / "checkpoints"
    # Training epoch 2 again writes epoch-0002.keras, where the damaged one is.
    metrics = commands.train(
        helpers.run_config(
            workdir, model="pixel_cnn", resume=True, epochs=2, batch_size=512, num_samples=1
        )
    )
    assert f"Resuming from {folder / 'epoch-0001.keras'} (epoch 1)." in capsys.readouterr().out
    assert np.isfinite(metrics["test_bits_per_dim"])
    assert (folder / "epoch-0002.keras.damaged-1").read_bytes() == cut
    assert [epoch for epoch, _ in training.checkpoints(str(workdir))] == [1, 2]
    resumed = training.load_checkpoint(str(folder / "epoch-0002.keras"), ema_weights=False)
    assert int(resumed.optimizer.iterations.numpy()) == 3  # 1500 images / 512
    warnings = _warnings(caplog)
    assert any("epoch-0002.keras' is damaged or truncated" in w for w in warnings)
    assert any("renamed it to" in w and "epoch-0002.keras.damaged-1" in w for w in warnings)


@pytest.mark.slow  # two runs of main.py: about 45 s
def test_main_py_resumes_from_the_newest_intact_checkpoint(tmp_path):
    workdir = tmp_path / "run"
    command = [
        sys.executable, "main.py", "train", f"--workdir={workdir}", "--model=pixel_cnn",
        "--preset=tiny", "--batch_size=512", "--num_filters=6", "--num_layers=1",
        "--output_filters=8", "--num_samples=1",
    ]
    env = helpers.subprocess_env(PYTHONPATH=helpers.ROOT)
    first = subprocess.run(
        command + ["--epochs=2"], cwd=helpers.ROOT, env=env, capture_output=True,
        text=True, timeout=300,
    )
    assert first.returncode == 0, first.stderr[-3000:]
    newest = workdir / "checkpoints" / "epoch-0002.keras"
    whole = newest.read_bytes()
    # A disk fault cut the newest checkpoint short.
    newest.write_bytes(whole[: len(whole) // 2])
    cut = newest.read_bytes()
    again = subprocess.run(
        command + ["--epochs=3", "--resume"], cwd=helpers.ROOT, env=env,
        capture_output=True, text=True, timeout=300,
    )
    assert again.returncode == 0, again.stderr[-3000:]
    assert f"{str(newest)!r} is damaged or truncated (BadZipFile" in again.stderr
    assert f"Resuming from {workdir / 'checkpoints' / 'epoch-0001.keras'} (epoch 1)." in (
        again.stdout
    )
    assert "Epoch 2/3" in again.stdout and "Epoch 3/3" in again.stdout
    assert (workdir / "checkpoints" / "epoch-0002.keras.damaged-1").read_bytes() == cut
    assert [epoch for epoch, _ in training.checkpoints(str(workdir))] == [1, 2, 3]
    metrics = json.loads((workdir / "metrics.json").read_text())
    assert metrics["epochs"] == 3 and np.isfinite(metrics["test_bits_per_dim"])
    assert os.path.isfile(workdir / "samples.png")
