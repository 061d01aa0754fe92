"""What the commands refuse or warn about before they write: a --workdir or
--export_dir that is a file, eval outputs that exist, a .npz that looks
binarized."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from pixel_keras.cli import commands
from pixel_keras.cli.config import resolve
from tests import helpers

COMMANDS = ("train", "eval", "sample", "complete", "export")


def _config(workdir, **overrides):
    return helpers.run_config(workdir, **{"export_dir": None, **overrides})


def _exit_2(command, config, capsys):
    with pytest.raises(SystemExit) as exit_info:
        commands.run(command, config)
    assert exit_info.value.code == 2
    return capsys.readouterr().err


@pytest.mark.parametrize("command", COMMANDS)
def test_a_workdir_that_is_a_file_is_refused_by_name(tmp_path, capsys, command):
    path = tmp_path / "notes.txt"
    path.write_bytes(b"my notes")
    error = _exit_2(command, _config(path), capsys)
    assert (
        f"Expected --workdir to be a folder (existing, or one to create). Received: "
        f"--workdir={str(path)!r}, which is an existing file" in error
    )
    assert path.read_bytes() == b"my notes"


def test_a_workdir_inside_a_file_is_refused_by_name(tmp_path, capsys):
    path = tmp_path / "notes.txt"
    path.write_bytes(b"my notes")
    error = _exit_2("train", _config(path / "run"), capsys)
    assert f"lies inside the existing file {str(path)!r}" in error
    assert path.read_bytes() == b"my notes"


def test_an_export_dir_that_is_a_file_is_refused_by_name(tmp_path, capsys):
    path = tmp_path / "models"
    path.write_bytes(b"not a folder")
    error = _exit_2("export", _config(tmp_path / "run", export_dir=str(path)), capsys)
    assert "Expected --export_dir to be a folder" in error
    assert f"Received: --export_dir={str(path)!r}, which is an existing file" in error
    assert path.read_bytes() == b"not a folder"


@pytest.fixture
def evaluated_workdir(tmp_path):
    """A run folder with a tiny PixelCNN checkpoint and the outputs of an
    earlier eval (placeholders)."""
    folder = tmp_path / "run" / "checkpoints"
    folder.mkdir(parents=True)
    model = helpers.tiny_pixel_cnn()
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    model.save(str(folder / "epoch-0001.keras"))
    return tmp_path / "run"


@pytest.mark.parametrize("existing", commands.EVAL_OUTPUTS)
def test_eval_refuses_to_overwrite_its_outputs(evaluated_workdir, capsys, existing):
    output = evaluated_workdir / existing
    output.write_bytes(b"earlier")
    error = _exit_2("eval", _config(evaluated_workdir, model="pixel_cnn"), capsys)
    assert (
        f"{str(output)!r} exists; pass --overwrite to replace eval's outputs, or "
        "choose another --workdir (nothing is overwritten)." in error
    )
    assert output.read_bytes() == b"earlier"
    assert sorted(p.name for p in evaluated_workdir.iterdir()) == sorted(
        ["checkpoints", existing]
    )


def test_eval_with_overwrite_replaces_its_outputs(evaluated_workdir):
    for name in commands.EVAL_OUTPUTS:
        (evaluated_workdir / name).write_bytes(b"earlier")
    metrics = commands.evaluate(_config(evaluated_workdir, model="pixel_cnn", overwrite=True))
    written = json.loads((evaluated_workdir / "eval_metrics.json").read_text())
    assert written["test_bits_per_dim"] == metrics["test_bits_per_dim"]
    heatmap = tf.io.decode_png((evaluated_workdir / "nll_heatmap.png").read_bytes())
    assert heatmap.shape[0] > 8 and heatmap.shape[1] > 8
    # Replaced atomically: no temporary file is left beside them.
    assert sorted(p.name for p in evaluated_workdir.iterdir()) == [
        "checkpoints", "eval_metrics.json", "nll_heatmap.png"
    ]


@pytest.mark.parametrize(
    "high, num_levels, warns",
    [(2, None, True), (2, 17, True), (2, 2, False), (3, None, False)],
)
def test_a_binarized_npz_warns_to_pass_num_levels_2(tmp_path, caplog, high, num_levels, warns):
    images = helpers.random_images((20, 8, 8), high=high)
    path = helpers.save_npz(tmp_path, "binary.npz", images=images)
    config = resolve(_config(tmp_path / "run", dataset=path, num_levels=num_levels))
    dataset = commands._load_dataset(config)
    assert dataset.num_levels == (num_levels or 256)
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    if warns:
        assert warnings == [
            f"File '{path}' has only the pixel values 0 and 1, but "
            f"num_levels={num_levels or 256}: it looks binarized. Pass num_levels=2 "
            "(main.py: --num_levels=2) to model it as binary images."
        ]
    else:
        assert not warnings
