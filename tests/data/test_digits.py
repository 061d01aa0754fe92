"""The embedded digits: metadata, a fixed split that partitions the source."""

import numpy as np
import pytest
import tensorflow as tf

from pixel_keras import data
from tests import helpers

# Pinned so that any change to the digits split, however it happens, fails.
# Pinned so that any change to the digits split, however it happens, fails.
DIGITS_FIRST_TRAIN_LABELS = [2, 8, 2, 6, 6, 7, 1, 9, 8, 5]
DIGITS_FIRST_TEST_LABELS = [2, 2, 9, 8, 8, 3, 6, 0, 4, 4]
DIGITS_TRAIN_PIXEL_SUM = 469124
DIGITS_TEST_PIXEL_SUM = 92594


@pytest.fixture(scope="module")
def digits_arrays(digits):
    return data.images_and_labels(digits.train), data.images_and_labels(digits.test)


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
    assert helpers.example_counter(train_images, train_labels) + helpers.example_counter(
        test_images, test_labels
    ) == helpers.example_counter(source_images, source.target.astype(np.int32))


def test_digits_accepts_larger_num_levels_and_rejects_smaller():
    assert data.load("digits", num_levels=32).num_levels == 32
    with pytest.raises(ValueError, match=r"'digits'.*maximum pixel value 16.*\[0, 15\]"):
        data.load("digits", num_levels=16)
