"""The figures `eval` and `complete` write (titled panels, colour bars in
bits), and the mode of the files the commands write atomically."""

import math
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from pixel_keras import data
from pixel_keras import images as images_lib
from pixel_keras import training
from pixel_keras.cli import commands
from pixel_keras.cli import figures
from tests import helpers


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A run folder with a tiny (untrained) PixelCNN checkpoint of the digits."""
    workdir = tmp_path_factory.mktemp("run")
    folder = workdir / "checkpoints"
    folder.mkdir()
    model = helpers.tiny_pixel_cnn()
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    model.save(str(folder / "epoch-0001.keras"))
    return workdir


def _config(workdir, **overrides):
    return helpers.run_config(workdir, model="pixel_cnn", **overrides)


def _colour_bars(figure):
    return [axes for axes in figure.axes if axes.get_label() == "<colorbar>"]


@pytest.fixture
def umask():
    """Sets the process's umask for a test, and restores it afterwards."""
    original = os.umask(0o022)
    yield os.umask
    os.umask(original)


def test_eval_writes_a_figure_not_a_bare_colour_map(workdir):
    commands.evaluate(_config(workdir, overwrite=True))
    heatmap = tf.io.decode_png((workdir / "nll_heatmap.png").read_bytes())
    # The bare map it replaces was 8 x 16 = 128 pixels square.
    assert heatmap.shape[0] > 400 and heatmap.shape[1] > 600
    assert not [name for name in os.listdir(workdir) if name.startswith(".tmp-")]


def test_heatmap_figure_shows_images_beside_their_nll_with_bits_colour_bars(workdir):
    model = commands.restore(_config(workdir))
    dataset = data.load("digits")
    evaluation = training.evaluate(model, dataset.test)
    figure = commands.nll_heatmap_figure(model, dataset, evaluation)
    bars = _colour_bars(figure)
    # One for the test images' maps, one for the mean map.
    assert len(bars) == 2
    assert all("bits" in bar.get_ylabel() for bar in bars)
    titles = [axes.get_title() for axes in figure.axes if axes.get_title()]
    assert [title for title in titles if title.startswith("Test image")] == [
        f"Test image {index}" for index in range(1, commands.NUM_HEATMAP_IMAGES + 1)
    ]
    assert sum(title.startswith("Its NLL") for title in titles) == 4
    assert any(title.startswith("Mean NLL per pixel") for title in titles)
    assert "297 test images" in figure.subfigs[1].get_suptitle()


def test_per_pixel_nll_sums_to_the_images_log_prob(workdir):
    model = commands.restore(_config(workdir))
    images, labels = data.images_and_labels(data.load("digits").test, limit=3)
    bits = commands.per_pixel_nll_bits(model, images, labels)
    assert bits.shape == (3, 8, 8) and (bits >= 0).all()
    np.testing.assert_allclose(
        bits.sum(axis=(1, 2)),
        -model.log_prob(images).numpy() / math.log(2.0),
        rtol=1e-5,
    )


def test_nll_figure_refuses_maps_of_another_shape():
    images = np.zeros((2, 8, 8, 1), np.uint8)
    with pytest.raises(ValueError, match=r"pixel_bits.shape=\(2, 8, 7\)"):
        figures.nll_figure(images, np.zeros((2, 8, 7)), np.zeros((8, 8)), 17, 10)


def test_completion_figure_has_titled_rows_and_hatches_the_unknown_pixels():
    originals = np.random.default_rng(0).integers(0, 17, (3, 8, 8, 3))
    known = np.zeros((3, 8, 8), bool)
    known[:, :4] = True
    known[1, 4, :2] = True  # A ragged edge: row 4 of image 1 has one run of 6.
    figure = figures.completion_figure(
        originals, known, originals[::-1], 17, description="seed 5"
    )
    assert [row.get_suptitle() for row in figure.subfigs] == [
        "Originals",
        "Given to the model (unknown pixels grey and hatched)",
        "Completions (seed 5)",
    ]
    assert all(len(row.axes) == 3 for row in figure.subfigs)
    hatched = [
        patch
        for axes in figure.subfigs[1].axes
        for patch in axes.patches
        if patch.get_hatch()
    ]
    # A rectangle per row of unknown pixels, covering each unknown pixel once.
    assert len(hatched) == 3 * 4
    assert sum(patch.get_width() for patch in hatched) == (~known).sum()
    assert not any(axes.patches for axes in figure.subfigs[0].axes)


def test_complete_writes_the_figure(workdir):
    commands.complete(_config(workdir, num_samples=2, seed=7))
    png = tf.io.decode_png((workdir / "completions-seed7.png").read_bytes())
    assert png.shape[0] > 200 and png.shape[-1] in (3, 4)


@pytest.mark.parametrize("mask", [0o027, 0o002], ids=oct)
def test_files_written_atomically_get_the_mode_of_the_umask(workdir, umask, mask):
    umask(mask)
    commands.evaluate(_config(workdir, overwrite=True))
    for name in commands.EVAL_OUTPUTS:
        assert os.stat(workdir / name).st_mode & 0o777 == 0o666 & ~mask, name
    path = workdir / f"written-{mask:o}.bin"
    images_lib.write_file_atomically(str(path), b"bytes")
    assert os.stat(path).st_mode & 0o777 == 0o666 & ~mask
