"""`main.py export`: versions 1 then 2 of a trained checkpoint, never
overwritten."""

import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from pixel_keras import data
from pixel_keras import training
from pixel_keras.cli import commands
from tests import helpers


@pytest.fixture(scope="module")
def trained_workdir(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("run")
    commands.train(helpers.tiny_run_config(workdir, batch_size=128, num_samples=2))
    return workdir


@pytest.mark.slow
def test_export_command_writes_version_1_then_2_of_the_checkpoint(trained_workdir, tmp_path):
    export_dir = tmp_path / "models"
    config = helpers.export_config(trained_workdir, export_dir=str(export_dir))
    first = commands.export(config)
    assert first == str(export_dir / "pixel_cnn_pp" / "1")
    assert os.listdir(export_dir) == ["pixel_cnn_pp"]
    assert os.path.isfile(os.path.join(first, "saved_model.pb"))
    assert os.path.isdir(os.path.join(first, "variables"))
    assert os.listdir(os.path.join(first, "variables"))
    assert os.path.isfile(os.path.join(first, "assets.extra", "tf_serving_warmup_requests"))
    # The second export names the checkpoint explicitly.
    checkpoint = training.latest_checkpoint(str(trained_workdir))[1]
    second = commands.export(
        helpers.export_config(trained_workdir, export_dir=str(export_dir), checkpoint=checkpoint)
    )
    assert second == str(export_dir / "pixel_cnn_pp" / "2")
    assert sorted(os.listdir(export_dir / "pixel_cnn_pp")) == ["1", "2"]
    with pytest.raises(FileExistsError, match="never overwrites"):
        commands.export(
            helpers.export_config(trained_workdir, export_dir=str(export_dir), version=1)
        )
    with pytest.raises(ValueError, match="model_name"):
        commands.export(
            helpers.export_config(trained_workdir, export_dir=str(export_dir), model_name="a/b")
        )
    assert sorted(os.listdir(export_dir)) == ["pixel_cnn_pp"]
    # --export_xla: the sampling signatures compile with XLA.
    third = commands.export(
        helpers.export_config(trained_workdir, export_dir=str(export_dir), export_xla=True)
    )
    assert helpers.xla_compiled_functions(third)
    assert not helpers.xla_compiled_functions(first)

    # The export holds the trained weights of the checkpoint.
    model = training.load_checkpoint(checkpoint)
    images, _ = data.images_and_labels(data.load("digits").test, limit=4)
    served = tf.saved_model.load(second).signatures["log_prob"](
        images=tf.constant(images.astype(np.uint8))
    )
    np.testing.assert_allclose(
        served["log_prob_nats"].numpy(), model.log_prob(images).numpy(), rtol=1e-5, atol=1e-5
    )


@pytest.mark.slow
def test_main_py_export_runs_and_never_overwrites(trained_workdir, tmp_path):
    command = [sys.executable, "main.py", "export", f"--workdir={trained_workdir}",
               f"--export_dir={tmp_path}"]
    run = subprocess.run(
        command, cwd=helpers.ROOT, env=helpers.subprocess_env(), capture_output=True,
        text=True, timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "version 1" in run.stdout
    assert os.path.isfile(tmp_path / "pixel_cnn_pp" / "1" / "saved_model.pb")
    before = helpers.folder_files(tmp_path / "pixel_cnn_pp" / "1")
    again = subprocess.run(
        command + ["--version=1"], cwd=helpers.ROOT, env=helpers.subprocess_env(),
        capture_output=True, text=True, timeout=300,
    )
    assert again.returncode != 0
    assert "never overwrites" in again.stderr
    assert os.listdir(tmp_path / "pixel_cnn_pp") == ["1"]
    assert helpers.folder_files(tmp_path / "pixel_cnn_pp" / "1") == before
