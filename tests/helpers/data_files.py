"""Image files and arrays the data tests write."""

import collections

import numpy as np
import tensorflow as tf

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
