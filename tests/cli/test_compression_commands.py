"""`compress` and `decompress`: the round trip through the two commands
gives the exact pixels (and labels), the printed bits/dim are the file's
and the model's, outputs are never written over, and a damaged file or one
of another model exits 2 naming it."""

import hashlib
import os
import re
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from pixel_keras import compression
from pixel_keras import data
from pixel_keras.cli import commands
from pixel_keras.cli import image_files
from pixel_keras.models import GatedPixelCNN
from tests import helpers

_BITS_LINE = re.compile(
    r"Bits/dim: (?P<file>\d+\.\d{4}) in the file, (?P<model>\d+\.\d{4}) by the model "
    r"\(its log_prob\) on the same images; raw: 4\.0875 \(17 levels\)\."
)


def _checkpoint(workdir, seed, **overrides):
    """A run folder with a small Gated PixelCNN checkpoint of the digits,
    its weights moved off their initial values (untrained pmfs are close to
    uniform)."""
    helpers.set_random_seed(seed)
    model = GatedPixelCNN.from_preset(
        "tiny", num_filters=6, num_layers=2, output_filters=12, **overrides
    )
    helpers.perturb_weights(model, 0.3, seed=seed)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    folder = workdir / "checkpoints"
    folder.mkdir(parents=True)
    model.save(str(folder / "epoch-0001.keras"))
    return workdir


@pytest.fixture(scope="module")
def labelled_run(tmp_path_factory):
    """A class-conditional checkpoint (the digits' 10 classes)."""
    return _checkpoint(tmp_path_factory.mktemp("labelled"), seed=1, num_classes=10)


@pytest.fixture(scope="module")
def plain_run(tmp_path_factory):
    """An unconditional checkpoint."""
    return _checkpoint(tmp_path_factory.mktemp("plain"), seed=2)


@pytest.fixture(scope="module")
def digits_npz(tmp_path_factory):
    """Seven test digits and their labels in a .npz, as `(N, H, W)`."""
    images, labels = data.images_and_labels(data.load("digits").test, limit=7)
    return helpers.save_npz(
        tmp_path_factory.mktemp("input"), "digits.npz", images=images[..., 0], labels=labels
    )


def _config(workdir, **flags):
    return helpers.run_config(workdir, **{"batch_size": None, "input": None, **flags})


def _exit_2(command, config, capsys):
    with pytest.raises(SystemExit) as exit_info:
        commands.run(command, config)
    assert exit_info.value.code == 2
    return capsys.readouterr().err


def _sha256(array):
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def test_npz_round_trip_gives_the_exact_pixels_and_labels(
    labelled_run, digits_npz, tmp_path, capsys, monkeypatch
):
    updates = []

    class RecordingProgbar(keras.utils.Progbar):
        def update(self, current, values=None, finalize=None):
            updates.append((current, self.target))
            super().update(current, values, finalize)

    monkeypatch.setattr(keras.utils, "Progbar", RecordingProgbar)
    compressed, decompressed = tmp_path / "digits.pxkc", tmp_path / "again.npz"
    result = commands.compress(
        _config(labelled_run, input=digits_npz, output=str(compressed), batch_size=3)
    )
    printed = capsys.readouterr().out
    # A progress bar of the images, moved after each chunk: 3, 3 and 1.
    assert updates == [(3, 7), (6, 7), (7, 7)]
    assert "7/7" in printed
    commands.decompress(_config(labelled_run, input=str(compressed), output=str(decompressed)))
    assert updates[3:] == [(3, 7), (6, 7), (7, 7)]

    with np.load(digits_npz) as given, np.load(decompressed) as decoded:
        assert sorted(decoded.files) == ["images", "labels"]
        images = decoded["images"]
        assert images.shape == (7, 8, 8, 1) and images.dtype == np.uint8
        assert _sha256(images[..., 0]) == _sha256(given["images"])
        np.testing.assert_array_equal(decoded["labels"], given["labels"])
        labels = given["labels"]
    header = compression.read_header(compressed.read_bytes())
    assert (header.count, header.batch_size, header.num_chunks) == (7, 3, 3)
    assert header.model.condition == "labels:10"

    # The printed line: the file's bits/dim and the model's on the images.
    match = _BITS_LINE.search(printed)
    assert match, printed
    model = commands.restore(_config(labelled_run))
    model_bits = float(np.mean(model.bits_per_dim(images, labels).numpy().astype(np.float64)))
    file_bits = 8 * compressed.stat().st_size / images.size
    assert float(match["model"]) == pytest.approx(model_bits, abs=1e-4)
    assert float(match["file"]) == pytest.approx(file_bits, abs=1e-4)
    assert result["num_bytes"] == compressed.stat().st_size
    assert f"7 images in {compressed.stat().st_size:,} bytes" in printed
    # The code costs what the model says, give or take the header.
    assert model_bits < file_bits < model_bits + 8 * 400 / images.size


def test_a_folder_of_pngs_round_trips_to_the_same_file(plain_run, digits_npz, tmp_path):
    first, folder, second = tmp_path / "a.pxkc", tmp_path / "pngs", tmp_path / "b.pxkc"
    commands.compress(_config(plain_run, input=digits_npz, output=str(first)))
    commands.decompress(_config(plain_run, input=str(first), output=str(folder)))

    names = sorted(os.listdir(folder))
    assert names == [f"00000{i}.png" for i in range(7)]
    decoded = np.stack(
        [tf.io.decode_png((folder / name).read_bytes()).numpy() for name in names]
    )
    with np.load(digits_npz) as given:
        # The raw values 0..16, not stretched: the same pixels.
        assert _sha256(decoded[..., 0]) == _sha256(given["images"])
    # The folder read back as --input: the same images in the same order,
    # so the same file.
    commands.compress(_config(plain_run, input=str(folder), output=str(second)))
    assert second.read_bytes() == first.read_bytes()
    assert not [name for name in os.listdir(tmp_path) if name.startswith(".tmp-")]


def test_input_names_a_split_of_any_dataset(digits_npz):
    source = image_files.read_input("digits:test")
    expected, labels = data.images_and_labels(data.load("digits").test)
    assert source.description == "the test split of digits"
    assert _sha256(source.images) == _sha256(expected)
    np.testing.assert_array_equal(source.labels, labels)
    # A .npz's fixed split (7 images: 6 train, 1 test); the whole file without one.
    assert len(image_files.read_input(f"{digits_npz}:train").images) == 6
    assert len(image_files.read_input(digits_npz).images) == 7
    assert image_files.png_name(12, 10_000_001) == "00000012.png"


@pytest.mark.parametrize("command", ["compress", "decompress"])
def test_an_existing_output_is_refused_and_kept(
    labelled_run, digits_npz, tmp_path, capsys, command
):
    output = tmp_path / ("out.npz" if command == "decompress" else "out.pxkc")
    output.write_bytes(b"earlier")
    source = digits_npz if command == "compress" else str(tmp_path / "missing.pxkc")
    error = _exit_2(command, _config(labelled_run, input=source, output=str(output)), capsys)
    assert f"{str(output)!r} exists; choose another --output (nothing is overwritten)." in error
    assert output.read_bytes() == b"earlier"


@pytest.fixture(scope="module")
def compressed_file(labelled_run, digits_npz, tmp_path_factory):
    path = tmp_path_factory.mktemp("compressed") / "digits.pxkc"
    commands.compress(_config(labelled_run, input=digits_npz, output=str(path), batch_size=4))
    return path


@pytest.mark.parametrize(
    "damage, error_name",
    [
        (lambda data: data[:-3], "TruncatedFileError"),
        (lambda data: data[:-1] + bytes([data[-1] ^ 0x10]), "CorruptFileError"),
        (lambda data: b"GIF89a" + data[6:], "NotCompressedImagesError"),
    ],
)
def test_a_damaged_file_exits_2_naming_it(
    labelled_run, compressed_file, tmp_path, capsys, damage, error_name
):
    damaged = tmp_path / "damaged.pxkc"
    damaged.write_bytes(damage(compressed_file.read_bytes()))
    output = tmp_path / "out.npz"
    error = _exit_2(
        "decompress", _config(labelled_run, input=str(damaged), output=str(output)), capsys
    )
    assert error.startswith(f"error: {error_name} in --input={str(damaged)!r}: "), error
    assert not output.exists()


def test_a_file_of_another_model_exits_2_saying_what_differs(
    plain_run, compressed_file, tmp_path, capsys
):
    output = tmp_path / "out"
    error = _exit_2(
        "decompress", _config(plain_run, input=str(compressed_file), output=str(output)), capsys
    )
    assert f"error: ModelMismatchError in --input={str(compressed_file)!r}: " in error
    assert "condition: file labels:10, model none" in error
    assert not output.exists()


def test_inputs_the_model_cannot_code_are_refused(labelled_run, tmp_path, capsys):
    unlabelled = helpers.save_npz(
        tmp_path, "unlabelled.npz", images=helpers.random_images((3, 8, 8), high=17)
    )
    wrong_shape = helpers.save_npz(
        tmp_path, "wide.npz", images=helpers.random_images((3, 8, 9), high=17)
    )
    output = str(tmp_path / "out.pxkc")
    cases = {
        unlabelled: "is class-conditional (10 classes), but --input",
        wrong_shape: "takes images (8, 8, 1), but --input",
        "digits:valid": "with split in train, test. Received: --input='digits:valid'",
        "digits": "(e.g. digits:test)",
        str(tmp_path / "missing.npz"): "does not exist",
    }
    for source, message in cases.items():
        error = _exit_2("compress", _config(labelled_run, input=source, output=output), capsys)
        assert message in error, (source, error)
    assert not os.path.exists(output)
    error = _exit_2("compress", _config(labelled_run, input=unlabelled), capsys)
    assert "Expected --output=<the compressed file to write>. Received: no --output." in error


def test_a_folder_output_of_images_pngs_cannot_hold_is_refused_before_decoding():
    with pytest.raises(ValueError, match=r"Pass an --output ending in \.npz"):
        image_files.check_png_output("out", (8, 8, 1), 512)
    with pytest.raises(ValueError, match="Pass an --output ending in"):
        image_files.check_png_output("out", (8, 8, 5), 256)
    image_files.check_png_output("out", (8, 8, 3), 256)


@pytest.mark.slow  # three main.py processes: about 60 s on 2 busy cores
def test_main_py_round_trip_and_a_damaged_file(plain_run, digits_npz, tmp_path):
    def main(*arguments):
        return subprocess.run(
            [sys.executable, "main.py", *arguments, f"--workdir={plain_run}"],
            cwd=helpers.ROOT, env=helpers.subprocess_env(PYTHONPATH=helpers.ROOT),
            capture_output=True, text=True, timeout=300,
        )

    compressed, decompressed = tmp_path / "digits.pxkc", tmp_path / "digits.npz"
    run = main("compress", f"--input={digits_npz}", f"--output={compressed}", "--batch_size=4")
    assert run.returncode == 0, run.stderr[-2000:]
    assert re.search(r"Bits/dim: \d+\.\d{4} in the file, \d+\.\d{4} by the model", run.stdout)
    data = bytearray(compressed.read_bytes())
    data[-1] ^= 0x01
    damaged = tmp_path / "damaged.pxkc"
    damaged.write_bytes(bytes(data))
    run = main("decompress", f"--input={damaged}", f"--output={decompressed}")
    assert run.returncode == 2
    assert f"error: CorruptFileError in --input={str(damaged)!r}: " in run.stderr
    run = main("decompress", f"--input={compressed}", f"--output={decompressed}")
    assert run.returncode == 0, run.stderr[-2000:]
    with np.load(digits_npz) as given, np.load(decompressed) as decoded:
        np.testing.assert_array_equal(decoded["images"][..., 0], given["images"])
