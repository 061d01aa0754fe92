"""Batched tf.data pipelines and `images_and_labels`."""

import numpy as np
import pytest
import tensorflow as tf

from pixel_keras import data


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
