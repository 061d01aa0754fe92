""".npz files: labelled and unlabelled, explicit test arrays, and every
invalid content named with the file."""

import numpy as np
import pytest
import tensorflow as tf

from pixel_keras import data
from tests import helpers


def test_npz_labelled_round_trip(tmp_path):
    images = helpers.random_images((20, 4, 5, 3))
    labels = np.arange(20) % 4
    path = helpers.save_npz(tmp_path, images=images, labels=labels)

    dataset = data.load(path)
    assert dataset.name == path
    assert dataset.image_shape == (4, 5, 3)
    assert dataset.num_levels == 256
    assert dataset.num_classes == 4
    assert (dataset.num_train_examples, dataset.num_test_examples) == (18, 2)
    train_images, train_labels = data.images_and_labels(dataset.train)
    test_images, test_labels = data.images_and_labels(dataset.test)
    assert train_labels.dtype == np.int32
    assert helpers.example_counter(train_images, train_labels) + helpers.example_counter(
        test_images, test_labels
    ) == helpers.example_counter(images, labels)

    order = np.random.RandomState(0).permutation(20)
    np.testing.assert_array_equal(test_images, images[order[18:]])
    np.testing.assert_array_equal(train_labels, labels[order[:18]])


def test_npz_unlabelled_3d_gets_channel_axis(tmp_path):
    images = helpers.random_images((10, 6, 7))
    dataset = data.load(helpers.save_npz(tmp_path, images=images))
    assert dataset.image_shape == (6, 7, 1)
    assert dataset.num_classes is None
    assert dataset.train.element_spec == {"images": tf.TensorSpec((6, 7, 1), tf.uint8)}
    assert (dataset.num_train_examples, dataset.num_test_examples) == (9, 1)
    train_images, train_labels = data.images_and_labels(dataset.train)
    assert train_labels is None
    assert train_images.shape == (9, 6, 7, 1)


def test_npz_explicit_test_arrays_are_used(tmp_path):
    images = helpers.random_images((6, 3, 3, 1), 1)
    test_images = helpers.random_images((4, 3, 3, 1), 2)
    path = helpers.save_npz(
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
    path = helpers.save_npz(tmp_path, images=helpers.random_images((5, 2, 2), high=2))
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
    path = helpers.save_npz(tmp_path, "bad_file.npz", **arrays)
    # Both the file and the problem must be named, in whatever order.
    with pytest.raises(ValueError, match=rf"(?=.*bad_file\.npz)(?=.*{pattern})"):
        data.load(path)


def test_npz_values_above_num_levels(tmp_path):
    images = np.zeros((4, 2, 2), np.uint8)
    images[2, 1, 1] = 9
    path = helpers.save_npz(tmp_path, "levels.npz", images=images)
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
