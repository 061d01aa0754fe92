"""TensorFlow Datasets by name: mocked data, value checks, config names, and
a builder really prepared offline (and trained on by main.py)."""

import json
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from pixel_keras import data
from tests import helpers


def test_tfds_mnist_with_mock_data(tfds, tmp_path):
    with tfds.testing.mock_data(num_examples=6):
        dataset = data.load("mnist", data_dir=str(tmp_path))
        assert dataset.name == "mnist"
        assert dataset.image_shape == (28, 28, 1)
        assert dataset.num_levels == 256
        assert dataset.num_classes == 10
        expected_spec = {
            "images": tf.TensorSpec((28, 28, 1), tf.uint8),
            "labels": tf.TensorSpec((), tf.int32),
        }
        assert dataset.train.element_spec == expected_spec
        assert dataset.test.element_spec == expected_spec
        images, labels = data.images_and_labels(dataset.train)
    assert images.shape == (6, 28, 28, 1)
    assert labels.min() >= 0 and labels.max() < 10
    # Mocked datasets carry no split sizes.
    assert dataset.num_train_examples is None


def test_tfds_binarized_mnist_with_mock_data(tfds, tmp_path):
    # Mocked integers are drawn from [0, max_value), so max_value=2 gives 0/1.
    with tfds.testing.mock_data(num_examples=4, max_value=2):
        dataset = data.load("binarized_mnist", data_dir=str(tmp_path))
        assert dataset.num_levels == 2
        assert dataset.num_classes is None
        assert dataset.test.element_spec == {"images": tf.TensorSpec((28, 28, 1), tf.uint8)}
        images, labels = data.images_and_labels(dataset.test)
    assert labels is None
    assert images.shape == (4, 28, 28, 1)
    assert images.max() <= 1


def test_tfds_values_above_num_levels_fail_when_read(tfds, tmp_path):
    with tfds.testing.mock_data(num_examples=2):  # Values in [0, 255).
        dataset = data.load("binarized_mnist", data_dir=str(tmp_path))
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"outside \[0, 1\]"):
            data.images_and_labels(dataset.train)


def test_tfds_config_name_with_slash_is_not_a_path(tfds, tmp_path):
    with tfds.testing.mock_data(num_examples=1):
        dataset = data.load("imagenet_resized/32x32", data_dir=str(tmp_path))
    assert dataset.image_shape == (32, 32, 3)
    assert dataset.num_classes == 1000


@pytest.fixture(scope="module")
def prepared_dummy_mnist(tfds, tmp_path_factory):
    """A data_dir with TFDS's `DummyMnist` really built: a registered-style
    builder that generates its 20 + 20 examples locally, through the same
    `download_and_prepare` path as `mnist` (which needs the network), so it
    fails on what that path imports (e.g. `importlib_resources`)."""
    from tensorflow_datasets.testing import test_utils

    data_dir = str(tmp_path_factory.mktemp("tfds"))
    test_utils.DummyMnist(data_dir=data_dir).download_and_prepare()
    return data_dir


def test_tfds_builder_path_prepares_and_loads_offline(prepared_dummy_mnist):
    dataset = data.load("dummy_mnist", data_dir=prepared_dummy_mnist)
    assert dataset.image_shape == (28, 28, 1)
    assert dataset.num_levels == 256
    assert dataset.num_classes == 10
    assert dataset.num_train_examples == 20 and dataset.num_test_examples == 20
    images, labels = data.images_and_labels(dataset.train)
    assert images.shape == (20, 28, 28, 1) and images.dtype == np.uint8
    assert np.all(images == 1)  # DummyMnist's images are all ones.
    assert sorted(labels.tolist()) == sorted(list(range(10)) * 2)


@pytest.mark.slow
def test_main_py_trains_on_a_tfds_dataset_built_by_its_builder(prepared_dummy_mnist, tmp_path):
    run = subprocess.run(
        [
            sys.executable, "main.py", "train", "--dataset=dummy_mnist",
            f"--data_dir={prepared_dummy_mnist}", f"--workdir={tmp_path}",
            "--epochs=1", "--batch_size=10", "--num_filters=8", "--num_resnet=1",
            "--num_logistic_mix=2", "--num_samples=1",
        ],
        cwd=helpers.ROOT,
        env=helpers.subprocess_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["num_test_images"] == 20
    assert np.isfinite(metrics["test_bits_per_dim"])
    assert (tmp_path / "samples.png").exists()
