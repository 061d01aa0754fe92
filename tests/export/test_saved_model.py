"""`export_model`: atomic, versioned export folders that are never
overwritten; the EMA weights are the ones served."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from pixel_keras.serving import WARMUP_FILE
from pixel_keras.serving import export_model
from tests import helpers


def _no_temporary_folders(model_dir):
    return not [name for name in os.listdir(model_dir) if name.startswith(".tmp")]


def test_existing_version_is_never_overwritten(exported, tmp_path):
    first = export_model(exported["pixel_cnn"].model, str(tmp_path), "m", version=1)
    assert first == str(tmp_path / "m" / "1")
    before = helpers.folder_files(first)
    assert "saved_model.pb" in before and WARMUP_FILE in before
    for model in (exported["pixel_cnn"].model, exported["pixel_cnn_pp"].model):
        with pytest.raises(FileExistsError, match="never overwrites"):
            export_model(model, str(tmp_path), "m", version=1)
    assert helpers.folder_files(first) == before
    (tmp_path / "m" / "4").mkdir()
    with pytest.raises(FileExistsError):
        export_model(exported["pixel_cnn"].model, str(tmp_path), "m", version=4)
    assert sorted(os.listdir(tmp_path / "m")) == ["1", "4"]


def test_next_version_is_one_more_than_the_newest(exported, tmp_path):
    model_dir = tmp_path / "m"
    for name in ("1", "7", "3", "notes", "v9"):
        (model_dir / name).mkdir(parents=True)
    path = export_model(exported["pixel_cnn"].model, str(tmp_path), "m", warmup=False)
    assert path == str(model_dir / "8")
    assert os.path.isfile(model_dir / "8" / "saved_model.pb")
    assert not os.path.exists(model_dir / "8" / WARMUP_FILE)
    assert sorted(os.listdir(model_dir)) == ["1", "3", "7", "8", "notes", "v9"]
    assert _no_temporary_folders(model_dir)


def test_next_version_ignores_non_ascii_digit_folders(exported, tmp_path):
    for name in ("1", "²"):
        (tmp_path / "m" / name).mkdir(parents=True)
    path = export_model(exported["pixel_cnn"].model, str(tmp_path), "m", warmup=False)
    assert path == str(tmp_path / "m" / "2")


@pytest.mark.parametrize("when", ["before_writing", "after_writing"])
def test_failed_export_leaves_no_version_and_no_temporary_folder(
    exported, tmp_path, monkeypatch, when
):
    # ExportArchive.__new__ returns the backend's archive class (not a
    # subclass of ExportArchive), so its write_out is the one to replace.
    archive_class = type(keras.export.ExportArchive())
    original = archive_class.write_out

    def write_out(self, filepath, *args, **kwargs):
        if when == "after_writing":
            original(self, filepath, *args, **kwargs)
            assert os.path.isfile(os.path.join(filepath, "saved_model.pb"))
        raise RuntimeError("disk full")

    monkeypatch.setattr(archive_class, "write_out", write_out)
    (tmp_path / "m" / "2").mkdir(parents=True)
    for version in (None, 5):
        with pytest.raises(RuntimeError, match="disk full"):
            export_model(exported["pixel_cnn"].model, str(tmp_path), "m", version=version)
        assert os.listdir(tmp_path / "m") == ["2"]


@pytest.mark.parametrize(
    "changes",
    [
        {"model_name": "a/b"},
        {"model_name": ""},
        {"model_name": ".hidden"},
        {"model_name": ".."},
        {"version": 0},
        {"version": -1},
        {"version": True},
        {"version": 2.0},
        {"version": "3"},
    ],
)
def test_bad_model_name_or_version_is_refused(exported, tmp_path, changes):
    arguments = {"model_name": "m", "version": None, **changes}
    with pytest.raises(ValueError, match=next(iter(changes))):
        export_model(exported["pixel_cnn"].model, str(tmp_path / "models"), **arguments)
    assert not os.path.exists(tmp_path / "models")


@pytest.mark.slow
def test_export_serves_the_ema_weights_and_keeps_the_model(tmp_path):
    from pixel_keras.models import PixelCNNPlusPlus

    model = PixelCNNPlusPlus.from_preset(
        "tiny", image_shape=(4, 4, 1), num_filters=8, num_logistic_mix=2
    )
    model.compile(optimizer=keras.optimizers.Adam(1e-2, use_ema=True, ema_momentum=0.5))
    images = np.random.default_rng(0).integers(0, 17, size=(8, 4, 4, 1)).astype("float32")
    model.fit(images, batch_size=4, epochs=1, verbose=0)
    # Move the weights away from their averages, as after more steps.
    raw = [variable.numpy() + 0.05 for variable in model.trainable_variables]
    for variable, value in zip(model.trainable_variables, raw):
        variable.assign(value)
    raw_log_prob = model.log_prob(images).numpy()

    path = export_model(model, str(tmp_path), "ema", warmup=False)

    for variable, value in zip(model.trainable_variables, raw):
        np.testing.assert_array_equal(variable.numpy(), value)  # given back
    averages = helpers.optimizer_averages(model)
    for variable, value in zip(model.trainable_variables, averages):
        variable.assign(value)
    ema_log_prob = model.log_prob(images).numpy()
    assert not np.allclose(ema_log_prob, raw_log_prob)
    served = tf.saved_model.load(path).signatures["log_prob"](
        images=tf.constant(images, tf.uint8)
    )["log_prob_nats"].numpy()
    np.testing.assert_allclose(served, ema_log_prob, rtol=1e-5)


def test_export_traces_each_sampling_loop_once(tmp_path):
    """Keras traces every signature to list its variables and the SavedModel
    writer again in its save context; the sampling loops the signatures
    call are traced for the first and reused by the second."""
    from pixel_keras.sampling import sampler

    model = helpers.export_model_of("pixel_cnn")
    export_model(model, str(tmp_path), "pixel_cnn", warmup=False)
    tracing_counts = {
        key: loop.experimental_get_tracing_count() for key, loop in sampler._LOOPS[model].items()
    }
    # `sample` and `complete` each build their own loop.
    assert len(tracing_counts) == 2, tracing_counts
    assert set(tracing_counts.values()) == {1}, tracing_counts
