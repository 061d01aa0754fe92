"""Tests for pixel_keras.data. None of them touch the network."""

import collections
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from pixel_keras import data

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Pinned so that any change to the digits split, however it happens, fails.
DIGITS_FIRST_TRAIN_LABELS = [2, 8, 2, 6, 6, 7, 1, 9, 8, 5]
DIGITS_FIRST_TEST_LABELS = [2, 2, 9, 8, 8, 3, 6, 0, 4, 4]
DIGITS_TRAIN_PIXEL_SUM = 469124
DIGITS_TEST_PIXEL_SUM = 92594


@pytest.fixture(scope="module")
def digits():
    return data.load("digits")


@pytest.fixture(scope="module")
def digits_arrays(digits):
    return data.images_and_labels(digits.train), data.images_and_labels(digits.test)


def example_counter(images, labels=None):
    """Multiset of examples, so splits can be compared regardless of order."""
    if labels is None:
        labels = [None] * len(images)
    return collections.Counter(
        (image.tobytes(), label) for image, label in zip(images, labels)
    )


def save_npz(tmp_path, file_name="data.npz", **arrays):
    path = tmp_path / file_name
    np.savez(path, **arrays)
    return str(path)


def random_images(shape, seed=0, high=256):
    return np.random.RandomState(seed).randint(0, high, size=shape).astype(np.uint8)


def write_png(path, image):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(tf.io.encode_png(np.asarray(image, np.uint8)).numpy())


# --- digits ---------------------------------------------------------------


def test_digits_metadata(digits):
    assert digits.name == "digits"
    assert digits.image_shape == (8, 8, 1)
    assert digits.num_levels == 17
    assert digits.num_classes == 10
    assert digits.num_train_examples == 1500
    assert digits.num_test_examples == 297
    for split in (digits.train, digits.test):
        assert split.element_spec == {
            "images": tf.TensorSpec((8, 8, 1), tf.uint8),
            "labels": tf.TensorSpec((), tf.int32),
        }


def test_digits_arrays(digits_arrays):
    (train_images, train_labels), (test_images, test_labels) = digits_arrays
    assert train_images.shape == (1500, 8, 8, 1)
    assert test_images.shape == (297, 8, 8, 1)
    assert train_images.dtype == np.uint8 and test_images.dtype == np.uint8
    assert train_labels.dtype == np.int32 and test_labels.dtype == np.int32
    for images in (train_images, test_images):
        assert images.min() >= 0 and images.max() <= 16
    for labels in (train_labels, test_labels):
        assert labels.min() >= 0 and labels.max() < 10
    assert train_images.max() == 16


def test_digits_split_is_fixed(digits_arrays):
    (train_images, train_labels), (test_images, test_labels) = digits_arrays
    assert train_labels[:10].tolist() == DIGITS_FIRST_TRAIN_LABELS
    assert test_labels[:10].tolist() == DIGITS_FIRST_TEST_LABELS
    assert int(train_images.sum(dtype=np.int64)) == DIGITS_TRAIN_PIXEL_SUM
    assert int(test_images.sum(dtype=np.int64)) == DIGITS_TEST_PIXEL_SUM

    reloaded = data.load("digits")
    again_train = data.images_and_labels(reloaded.train)
    again_test = data.images_and_labels(reloaded.test)
    np.testing.assert_array_equal(again_train[0], train_images)
    np.testing.assert_array_equal(again_train[1], train_labels)
    np.testing.assert_array_equal(again_test[0], test_images)
    np.testing.assert_array_equal(again_test[1], test_labels)


def test_digits_split_is_a_disjoint_partition(digits_arrays):
    from sklearn.datasets import load_digits

    (train_images, train_labels), (test_images, test_labels) = digits_arrays
    source = load_digits()
    order = np.random.RandomState(0).permutation(1797)
    train_indices, test_indices = order[:1500], order[1500:]
    assert not set(train_indices) & set(test_indices)
    source_images = source.images.astype(np.uint8)[..., None]
    np.testing.assert_array_equal(train_images, source_images[train_indices])
    np.testing.assert_array_equal(test_labels, source.target[test_indices])
    # Together the splits hold every example exactly once.
    assert example_counter(train_images, train_labels) + example_counter(
        test_images, test_labels
    ) == example_counter(source_images, source.target.astype(np.int32))


def test_digits_accepts_larger_num_levels_and_rejects_smaller():
    assert data.load("digits", num_levels=32).num_levels == 32
    with pytest.raises(ValueError, match=r"'digits'.*maximum pixel value 16.*\[0, 15\]"):
        data.load("digits", num_levels=16)


@pytest.mark.parametrize("num_levels", [0, 1, 257, 2.5, True, "17"])
def test_invalid_num_levels(num_levels):
    with pytest.raises(ValueError, match=r"`num_levels`.*\[2, 256\]"):
        data.load("digits", num_levels=num_levels)


# --- .npz files -----------------------------------------------------------


def test_npz_labelled_round_trip(tmp_path):
    images = random_images((20, 4, 5, 3))
    labels = np.arange(20) % 4
    path = save_npz(tmp_path, images=images, labels=labels)

    dataset = data.load(path)
    assert dataset.name == path
    assert dataset.image_shape == (4, 5, 3)
    assert dataset.num_levels == 256
    assert dataset.num_classes == 4
    assert (dataset.num_train_examples, dataset.num_test_examples) == (18, 2)
    train_images, train_labels = data.images_and_labels(dataset.train)
    test_images, test_labels = data.images_and_labels(dataset.test)
    assert train_labels.dtype == np.int32
    assert example_counter(train_images, train_labels) + example_counter(
        test_images, test_labels
    ) == example_counter(images, labels)

    order = np.random.RandomState(0).permutation(20)
    np.testing.assert_array_equal(test_images, images[order[18:]])
    np.testing.assert_array_equal(train_labels, labels[order[:18]])


def test_npz_unlabelled_3d_gets_channel_axis(tmp_path):
    images = random_images((10, 6, 7))
    dataset = data.load(save_npz(tmp_path, images=images))
    assert dataset.image_shape == (6, 7, 1)
    assert dataset.num_classes is None
    assert dataset.train.element_spec == {"images": tf.TensorSpec((6, 7, 1), tf.uint8)}
    assert (dataset.num_train_examples, dataset.num_test_examples) == (9, 1)
    train_images, train_labels = data.images_and_labels(dataset.train)
    assert train_labels is None
    assert train_images.shape == (9, 6, 7, 1)


def test_npz_explicit_test_arrays_are_used(tmp_path):
    images, test_images = random_images((6, 3, 3, 1), 1), random_images((4, 3, 3, 1), 2)
    path = save_npz(
        tmp_path, images=images, labels=np.array([0, 1, 2, 0, 1, 2]),
        test_images=test_images, test_labels=np.array([5, 0, 0, 1]),
    )
    dataset = data.load(path)
    assert (dataset.num_train_examples, dataset.num_test_examples) == (6, 4)
    assert dataset.num_classes == 6  # The largest label may be in the test split.
    train = data.images_and_labels(dataset.train)
    test = data.images_and_labels(dataset.test)
    np.testing.assert_array_equal(train[0], images)
    np.testing.assert_array_equal(test[0], test_images)
    np.testing.assert_array_equal(test[1], [5, 0, 0, 1])


def test_npz_num_levels_within_range(tmp_path):
    path = save_npz(tmp_path, images=random_images((5, 2, 2), high=2))
    assert data.load(path, num_levels=2).num_levels == 2


@pytest.mark.parametrize(
    "arrays, pattern",
    [
        (dict(pixels=np.zeros((3, 2, 2), np.uint8)), r"no 'images' array; found keys \['pixels'\]"),
        (dict(images=np.zeros((3, 2, 2), np.float32)), r"dtype float32, expected uint8.*astype"),
        (dict(images=np.zeros((3, 2), np.uint8)), r"'images'.*shape \(3, 2\).*expected \(N, H, W\)"),
        (dict(images=np.zeros((3, 2, 2, 1, 1), np.uint8)), r"5 dimensions"),
        (dict(images=np.zeros((0, 2, 2), np.uint8)), r"'images'.*is empty"),
        (dict(images=np.zeros((3, 2, 2), np.uint8), labels=np.zeros(2, np.int64)),
         r"'labels'.*2 labels but 'images' has 3 images"),
        (dict(images=np.zeros((3, 2, 2), np.uint8), labels=np.array([0, -1, 2])),
         r"'labels'.*negative label -1"),
        (dict(images=np.zeros((3, 2, 2), np.uint8), labels=np.array([0.0, 1.0, 2.0])),
         r"'labels'.*dtype float64, expected integer"),
        (dict(images=np.zeros((3, 2, 2), np.uint8), labels=np.zeros((3, 1), np.int64)),
         r"'labels'.*shape \(3, 1\), expected \(N,\)"),
        (dict(images=np.zeros((3, 2, 2), np.uint8), label=np.zeros(3, np.int64)),
         r"unexpected keys \['label'\]"),
        (dict(images=np.zeros((3, 2, 2), np.uint8), test_labels=np.zeros(3, np.int64)),
         r"'test_labels' but no 'test_images'"),
        (dict(images=np.zeros((3, 2, 2), np.uint8), labels=np.zeros(3, np.int64),
              test_images=np.zeros((2, 2, 2), np.uint8)),
         r"has 'labels' but no 'test_labels'"),
        (dict(images=np.zeros((3, 2, 2), np.uint8), test_images=np.zeros((2, 3, 2), np.uint8)),
         r"'test_images'.*shape \(3, 2, 1\).*'images'.*shape \(2, 2, 1\)"),
        (dict(images=np.zeros((3, 2, 2), np.uint8), test_images=np.zeros((2, 2, 2), np.int16)),
         r"'test_images'.*dtype int16, expected uint8"),
        (dict(images=np.zeros((1, 2, 2), np.uint8)), r"1 example\(s\); at least 2"),
    ],
)
def test_npz_invalid_content(tmp_path, arrays, pattern):
    path = save_npz(tmp_path, "bad_file.npz", **arrays)
    # Both the file and the problem must be named, in whatever order.
    with pytest.raises(ValueError, match=rf"(?=.*bad_file\.npz)(?=.*{pattern})"):
        data.load(path)


def test_npz_values_above_num_levels(tmp_path):
    images = np.zeros((4, 2, 2), np.uint8)
    images[2, 1, 1] = 9
    path = save_npz(tmp_path, "levels.npz", images=images)
    with pytest.raises(
        ValueError, match=r"levels\.npz.*maximum pixel value 9.*num_levels=8.*\[0, 7\]"
    ):
        data.load(path, num_levels=8)


def test_npz_that_is_not_an_archive(tmp_path):
    not_a_zip = tmp_path / "garbage.npz"
    not_a_zip.write_bytes(b"definitely not a zip archive")
    with pytest.raises(ValueError, match=r"garbage\.npz"):
        data.load(str(not_a_zip))

    single_array = tmp_path / "single.npz"
    with open(single_array, "wb") as file:
        np.save(file, np.zeros((3, 2, 2), np.uint8))
    with pytest.raises(ValueError, match=r"single\.npz.*single array"):
        data.load(str(single_array))


def test_existing_file_that_is_not_npz(tmp_path):
    path = tmp_path / "images.txt"
    path.write_text("hello")
    with pytest.raises(ValueError, match=r"images\.txt.*not a \.npz"):
        data.load(str(path))


@pytest.mark.parametrize(
    "name", ["missing.npz", "./missing_folder", "/nonexistent/pixel_keras/data", "~/no/such/dir.npz"]
)
def test_missing_path_raises_file_not_found(name):
    with pytest.raises(FileNotFoundError, match=re.escape(name)):
        data.load(name)


# --- image folders --------------------------------------------------------


def test_flat_folder_is_unlabelled(tmp_path):
    for index in range(6):
        write_png(tmp_path / f"image_{index}.png", np.full((4, 4, 1), index * 10))
    (tmp_path / "notes.txt").write_text("ignored")
    dataset = data.load(str(tmp_path))
    assert dataset.image_shape == (4, 4, 1)
    assert dataset.num_classes is None
    assert dataset.num_levels == 256
    assert (dataset.num_train_examples, dataset.num_test_examples) == (5, 1)
    train_images, train_labels = data.images_and_labels(dataset.train)
    test_images, _ = data.images_and_labels(dataset.test)
    assert train_labels is None
    all_values = sorted(np.concatenate([train_images, test_images])[:, 0, 0, 0].tolist())
    assert all_values == [0, 10, 20, 30, 40, 50]


def test_class_sub_folders_give_sorted_labels(tmp_path):
    # The folder names sort as cat < dog; pixel values tell the images apart.
    for index in range(3):
        write_png(tmp_path / "dog" / f"{index}.png", np.full((4, 5, 3), 200))
        write_png(tmp_path / "cat" / f"{index}.png", np.full((4, 5, 3), 10))
    dataset = data.load(str(tmp_path))
    assert dataset.image_shape == (4, 5, 3)
    assert dataset.num_classes == 2
    assert dataset.train.element_spec["labels"] == tf.TensorSpec((), tf.int32)
    images, labels = data.images_and_labels(dataset.train.concatenate(dataset.test))
    assert len(labels) == 6
    for image, label in zip(images, labels):
        assert image[0, 0, 0] == (10 if label == 0 else 200)


def test_folder_decodes_jpeg(tmp_path):
    for index in range(3):
        image = np.full((8, 8, 3), 100, np.uint8)
        (tmp_path / f"photo_{index}.JPG").write_bytes(tf.io.encode_jpeg(image).numpy())
    dataset = data.load(str(tmp_path))
    assert dataset.image_shape == (8, 8, 3)


def test_empty_folder(tmp_path):
    (tmp_path / "readme.txt").write_text("no images here")
    with pytest.raises(ValueError, match=re.escape(str(tmp_path)) + r".*contains no"):
        data.load(str(tmp_path))


def test_folder_with_mixed_sizes(tmp_path):
    write_png(tmp_path / "a.png", np.zeros((4, 4, 1)))
    write_png(tmp_path / "b.png", np.zeros((5, 4, 1)))
    with pytest.raises(ValueError, match=r"b\.png.*\(5, 4, 1\).*a\.png.*\(4, 4, 1\)"):
        data.load(str(tmp_path))


def test_folder_with_mixed_channels(tmp_path):
    write_png(tmp_path / "a.png", np.zeros((4, 4, 1)))
    write_png(tmp_path / "b.png", np.zeros((4, 4, 3)))
    with pytest.raises(ValueError, match=r"b\.png.*\(4, 4, 3\).*a\.png.*\(4, 4, 1\)"):
        data.load(str(tmp_path))


def test_folder_with_undecodable_file(tmp_path):
    write_png(tmp_path / "a.png", np.zeros((4, 4, 1)))
    (tmp_path / "broken.png").write_bytes(b"not a png at all")
    with pytest.raises(ValueError, match=r"broken\.png"):
        data.load(str(tmp_path))


def test_folder_with_16_bit_png(tmp_path):
    write_png(tmp_path / "a.png", np.zeros((4, 4, 1)))
    deep = tf.io.encode_png(tf.zeros((4, 4, 1), tf.uint16)).numpy()
    (tmp_path / "deep.png").write_bytes(deep)
    with pytest.raises(ValueError, match=r"deep\.png.*16-bit PNG"):
        data.load(str(tmp_path))


def test_folder_with_empty_class_sub_folder(tmp_path):
    write_png(tmp_path / "full" / "a.png", np.zeros((4, 4, 1)))
    write_png(tmp_path / "full" / "b.png", np.zeros((4, 4, 1)))
    (tmp_path / "hollow").mkdir()
    with pytest.raises(ValueError, match=r"hollow.*no .*images"):
        data.load(str(tmp_path))


def test_folder_mixing_images_and_sub_folders(tmp_path):
    write_png(tmp_path / "loose.png", np.zeros((4, 4, 1)))
    write_png(tmp_path / "class_a" / "a.png", np.zeros((4, 4, 1)))
    with pytest.raises(ValueError, match=r"both image files.*and sub-folders"):
        data.load(str(tmp_path))


def test_folder_values_above_num_levels(tmp_path):
    write_png(tmp_path / "a.png", np.zeros((2, 2, 1)))
    write_png(tmp_path / "b.png", np.full((2, 2, 1), 3))
    assert data.load(str(tmp_path), num_levels=4).num_levels == 4
    with pytest.raises(ValueError, match=r"maximum pixel value 3.*\[0, 1\]"):
        data.load(str(tmp_path), num_levels=2)


# --- TFDS -----------------------------------------------------------------


@pytest.fixture(scope="module")
def tfds():
    return pytest.importorskip("tensorflow_datasets")


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
        cwd=ROOT,
        env=dict(os.environ, CUDA_VISIBLE_DEVICES="", TF_CPP_MIN_LOG_LEVEL="2"),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["num_test_images"] == 20
    assert np.isfinite(metrics["test_bits_per_dim"])
    assert (tmp_path / "samples.png").exists()


def test_unknown_name_lists_what_is_expected(tfds):
    with pytest.raises(ValueError) as error_info:
        data.load("no_such_dataset_anywhere")
    message = str(error_info.value)
    assert "no_such_dataset_anywhere" in message
    for expected in ("'digits'", ".npz", "folder", "TensorFlow Datasets", "network", "data_dir"):
        assert expected in message


# --- batched and images_and_labels ----------------------------------------


def test_batched_shapes(digits):
    batches = list(data.batched(digits.test, 32))
    assert len(batches) == 10
    assert batches[0]["images"].shape == (32, 8, 8, 1)
    assert batches[-1]["images"].shape == (297 % 32, 8, 8, 1)

    dropped = data.batched(digits.test, 32, drop_remainder=True)
    assert dropped.element_spec["images"].shape == (32, 8, 8, 1)
    assert len(list(dropped)) == 9


def test_batched_repeat_and_shuffle(digits):
    repeated = data.batched(digits.test, 100, repeat=True)
    assert len(list(repeated.take(7))) == 7  # More than one epoch of 297.

    def first_labels(dataset):
        return next(iter(dataset))["labels"].numpy()

    in_order = first_labels(data.batched(digits.test, 64))
    shuffled = data.batched(digits.test, 64, shuffle=True, seed=3)
    same_seed = data.batched(digits.test, 64, shuffle=True, seed=3)
    np.testing.assert_array_equal(first_labels(shuffled), first_labels(same_seed))
    assert not np.array_equal(first_labels(shuffled), in_order)
    # Each pass over the same pipeline draws a new order.
    assert not np.array_equal(first_labels(shuffled), first_labels(shuffled))


@pytest.mark.parametrize("batch_size", [0, -4, 2.5, True, None])
def test_batched_rejects_bad_batch_size(digits, batch_size):
    with pytest.raises(ValueError, match=r"`batch_size` must be a positive integer"):
        data.batched(digits.train, batch_size)


def test_batched_rejects_non_dataset():
    with pytest.raises(TypeError, match="tf.data.Dataset"):
        data.batched(np.zeros((4, 2, 2, 1)), 2)


def test_images_and_labels_limit_and_batched_input(digits):
    images, labels = data.images_and_labels(digits.train, limit=10)
    assert images.shape == (10, 8, 8, 1) and labels.shape == (10,)
    from_batches, _ = data.images_and_labels(data.batched(digits.train, 4), limit=10)
    np.testing.assert_array_equal(from_batches, images)
    empty, empty_labels = data.images_and_labels(digits.train, limit=0)
    assert empty.shape == (0, 8, 8, 1) and empty_labels.shape == (0,)
    with pytest.raises(ValueError, match="`limit`"):
        data.images_and_labels(digits.train, limit=-1)


def test_images_and_labels_rejects_other_elements():
    with pytest.raises(ValueError, match="'images'"):
        data.images_and_labels(tf.data.Dataset.from_tensor_slices(np.zeros((3, 2))))
