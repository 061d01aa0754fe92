"""`main.py` and the `pixel-keras` console script run as programs: they
train, list the commands, and bad commands and flags fail with a clear
message."""

import os
import subprocess
import sys

import pytest

from tests import helpers

ENV = helpers.subprocess_env(PYTHONPATH=helpers.ROOT)


@pytest.mark.slow
def test_batch_not_divisible_by_replicas_fails_in_main(tmp_path):
    run = subprocess.run(
        [sys.executable, "main.py", f"--workdir={tmp_path}", "--strategy=mirrored",
         "--num_cpu_devices=2", "--batch_size=33", "--epochs=1"],
        cwd=helpers.ROOT, env=ENV, capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 2
    assert "divisible by the 2 replicas" in run.stderr


@pytest.mark.slow
def test_main_py_runs_and_reports_bad_flags(tmp_path):
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="")
    run = subprocess.run(
        [sys.executable, "main.py", "train", f"--workdir={tmp_path}", "--epochs=1",
         "--num_samples=2", "--batch_size=128"],
        cwd=helpers.ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert "Test bits/dim" in run.stdout
    bad = subprocess.run(
        [sys.executable, "main.py", "fly"], cwd=helpers.ROOT, env=env,
        capture_output=True, text=True, timeout=120,
    )
    assert bad.returncode != 0 and "fly" in bad.stderr
    bad_flag = subprocess.run(
        [sys.executable, "main.py", "--batch_size=0"], cwd=helpers.ROOT, env=env,
        capture_output=True, text=True, timeout=120,
    )
    assert bad_flag.returncode != 0 and "batch_size" in bad_flag.stderr


@pytest.mark.slow
def test_main_py_refuses_a_dataset_of_images_scaled_to_unit(tmp_path):
    path = tmp_path / "scaled.npz"
    images = helpers.random_images((20, 8, 8, 1)).astype("float32") / 255.0
    helpers.save_npz(tmp_path, "scaled.npz", images=images)
    run = subprocess.run(
        [sys.executable, "main.py", "train", f"--workdir={tmp_path / 'run'}",
         f"--dataset={path}", "--epochs=1"],
        cwd=helpers.ROOT, env=ENV, capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 2, run.stderr[-2000:]
    assert "dtype float32, expected uint8" in run.stderr
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_console_script_help_lists_the_commands(tmp_path):
    # What the `pixel-keras` script pip writes runs: `run()` from a
    # `__main__` without a docstring, outside the checkout.
    script = "import sys; from pixel_keras.cli.main import run; sys.argv[0] = 'pixel-keras'; run()"
    run = subprocess.run(
        [sys.executable, "-c", script, "--help"], cwd=tmp_path, env=ENV,
        capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 1, run.stderr[-2000:]  # absl's --help exits 1
    for command in ("train", "eval", "sample", "complete", "export", "compress", "decompress"):
        assert f"pixel-keras {command}" in run.stdout, run.stdout
    assert "--helpfull" in run.stdout
    bad = subprocess.run(
        [sys.executable, "-c", script, "fly"], cwd=tmp_path, env=ENV,
        capture_output=True, text=True, timeout=120,
    )
    assert bad.returncode != 0 and "Received: fly" in bad.stderr
