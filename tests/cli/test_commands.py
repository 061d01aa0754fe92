"""The main.py commands end to end on the embedded digits, in tiny runs."""

import json
import os
import types

import numpy as np
import pytest
import tensorflow as tf

from pixel_keras import data
from pixel_keras import training
from pixel_keras.cli import commands
from pixel_keras.cli import registry
from pixel_keras.cli.config import resolve
from tests import helpers


@pytest.fixture(scope="module")
def trained_workdir(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("run")
    commands.train(helpers.tiny_run_config(workdir))
    return workdir


def test_train_writes_checkpoint_logs_samples_and_metrics(trained_workdir):
    metrics = json.loads((trained_workdir / "metrics.json").read_text())
    assert np.isfinite(metrics["test_bits_per_dim"])
    assert metrics["num_test_images"] == 297
    assert training.latest_checkpoint(str(trained_workdir))[0] == 1
    assert os.listdir(trained_workdir / "logs")
    grid = tf.io.decode_png((trained_workdir / "samples.png").read_bytes())
    assert grid.shape[-1] == 1 and grid.shape[0] > 8


def test_eval_matches_summed_log_prob_and_writes_heatmap(trained_workdir):
    metrics = commands.evaluate(helpers.tiny_run_config(trained_workdir))
    assert os.path.exists(trained_workdir / "nll_heatmap.png")
    model = training.load_checkpoint(training.latest_checkpoint(str(trained_workdir))[1])
    images, _ = data.images_and_labels(data.load("digits").test)
    bits = model.bits_per_dim(images).numpy().astype(np.float64).mean()
    np.testing.assert_allclose(metrics["test_bits_per_dim"], bits, rtol=1e-5)
    per_pixel = np.array(metrics["nll_bits_per_pixel"])
    np.testing.assert_allclose(per_pixel.sum() / 64, bits, rtol=1e-3)


def test_sample_and_complete_write_new_files_only(trained_workdir):
    samples = commands.sample(helpers.tiny_run_config(trained_workdir, seed=3))
    assert samples.shape == (4, 8, 8, 1) and samples.max() <= 16
    with pytest.raises(FileExistsError, match="overwritten"):
        commands.sample(helpers.tiny_run_config(trained_workdir, seed=3))
    completed = commands.complete(helpers.tiny_run_config(trained_workdir))
    assert completed.shape == (4, 8, 8, 1)
    assert os.path.exists(trained_workdir / "completions-seed0.png")


@pytest.mark.slow
def test_resume_continues_and_fresh_run_refuses_existing_checkpoints(trained_workdir):
    with pytest.raises(FileExistsError, match="--resume"):
        commands.train(helpers.tiny_run_config(trained_workdir))
    commands.train(helpers.tiny_run_config(trained_workdir, resume=True, epochs=2))
    assert training.latest_checkpoint(str(trained_workdir))[0] == 2


def test_resume_without_checkpoint_and_missing_checkpoint_are_clear(tmp_path):
    with pytest.raises(FileNotFoundError, match="resume"):
        commands.train(helpers.tiny_run_config(tmp_path, resume=True))
    with pytest.raises(FileNotFoundError, match="train first"):
        commands.sample(helpers.tiny_run_config(tmp_path))


# --model -> the class of its checkpoint.
MODEL_CLASSES = {
    "pixel_cnn": "PixelCNN",
    "row_lstm": "PixelRNN",
    "diagonal_bilstm": "PixelRNN",
    "gated_pixel_cnn": "GatedPixelCNN",
}


@pytest.mark.parametrize(
    "model",
    # Seconds each: the PixelCNN and the Gated PixelCNN by default, the
    # PixelRNNs with -m slow.
    [
        "pixel_cnn",
        "gated_pixel_cnn",
        pytest.param("row_lstm", marks=pytest.mark.slow),
        pytest.param("diagonal_bilstm", marks=pytest.mark.slow),
    ],
)
def test_categorical_models_train_eval_sample_complete(tmp_path, model):
    config = helpers.tiny_run_config(
        tmp_path,
        model=model,
        num_filters=6,
        num_resnet=None,
        num_logistic_mix=None,
        num_layers=1,
        output_filters=8,
        batch_size=128,
    )
    metrics = commands.train(config)
    assert metrics["model"] == model
    first_loss = metrics["train_bits_per_dim"]
    # Uniform over 17 levels is log2(17) = 4.09 bits/dim; one epoch beats it.
    assert first_loss < np.log2(17)
    restored = training.load_checkpoint(training.latest_checkpoint(str(tmp_path))[1])
    assert type(restored).__name__ == MODEL_CLASSES[model]
    assert registry.model_kind(restored) == model
    evaluation = commands.evaluate(config)
    np.testing.assert_allclose(
        evaluation["test_bits_per_dim"], metrics["test_bits_per_dim"], rtol=1e-5
    )
    samples = commands.sample(helpers.tiny_run_config(tmp_path, model=model, seed=5))
    assert samples.shape == (4, 8, 8, 1) and samples.max() <= 16
    completed = commands.complete(config)
    images, _ = data.images_and_labels(data.load("digits").test, limit=4)
    np.testing.assert_array_equal(completed[:, :4], images[:, :4])


def test_architecture_flag_of_another_model_is_refused(tmp_path):
    with pytest.raises(ValueError, match="does not apply to --model=row_lstm"):
        commands.train(helpers.tiny_run_config(tmp_path, model="row_lstm"))
    with pytest.raises(ValueError, match="--num_layers does not apply"):
        commands.train(helpers.tiny_run_config(tmp_path, num_layers=2))
    with pytest.raises(ValueError, match="--kernel_size does not apply to --model=pixel_cnn;"):
        commands.train(
            helpers.tiny_run_config(
                tmp_path, model="pixel_cnn", num_resnet=None, num_logistic_mix=None,
                num_filters=None, kernel_size=5,
            )
        )


def test_gated_pixel_cnn_takes_its_kernel_size_and_its_recipe(tmp_path):
    config = resolve(
        helpers.run_config(tmp_path, model="gated_pixel_cnn", kernel_size=5, num_layers=2)
    )
    assert config.recipe == "gated_pixel_cnn/digits" and config.preset == "tiny"
    model = registry.build_model(config, data.load("digits"))
    assert type(model).__name__ == "GatedPixelCNN"
    assert (model.kernel_size, model.num_layers) == (5, 2)
    assert registry.model_choice(config)[2] == "Gated PixelCNN"


@pytest.mark.slow  # two short runs: about 25 s
def test_train_in_mixed_bfloat16_and_resume_keeps_the_policy(tmp_path):
    # (XLA's compile takes most of a minute on CPU; the compiled step is
    # tested in tests/test_pixel_values.py, the flag below.)
    config = helpers.tiny_run_config(tmp_path, dtype_policy="mixed_bfloat16")
    metrics = commands.train(config)
    assert np.isfinite(metrics["test_bits_per_dim"])
    path = training.latest_checkpoint(str(tmp_path))[1]
    assert training.load_checkpoint(path).dtype_policy.name == "mixed_bfloat16"
    with pytest.raises(ValueError, match=r"mixed_bfloat16.*--dtype_policy=float32"):
        commands.train(
            helpers.tiny_run_config(tmp_path, resume=True, epochs=2, dtype_policy="float32")
        )
    commands.train(helpers.tiny_run_config(tmp_path, resume=True, epochs=2))
    assert training.latest_checkpoint(str(tmp_path))[0] == 2


@pytest.mark.parametrize(
    "flag, replicas, accelerator, expected",
    [
        ("true", 1, False, True),
        ("false", 1, True, False),
        ("auto", 1, False, False),
        ("auto", 1, True, True),
        ("auto", 2, True, False),
    ],
)
def test_jit_compile_flag(monkeypatch, flag, replicas, accelerator, expected):
    from pixel_keras.training import distribute

    monkeypatch.setattr(distribute, "accelerator_visible", lambda: accelerator)
    strategy = types.SimpleNamespace(num_replicas_in_sync=replicas)
    config = types.SimpleNamespace(jit_compile=flag)
    assert commands._jit_compile(config, strategy) is expected
