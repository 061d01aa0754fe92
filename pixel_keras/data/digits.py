"""The embedded digits dataset: scikit-learn's bundled 8x8 handwritten digits."""

from __future__ import annotations

import numpy as np
from sklearn import datasets as sklearn_datasets

from pixel_keras.data.image_dataset import DIGITS_NAME
from pixel_keras.data.image_dataset import SPLIT_SEED
from pixel_keras.data.image_dataset import ImageDataset
from pixel_keras.data.image_dataset import check_max_value
from pixel_keras.data.image_dataset import from_arrays

# The digits split is part of the public contract (published numbers are
# computed on it), so these constants must never change.
_DIGITS_NUM_EXAMPLES = 1797
_DIGITS_NUM_TRAIN = 1500
_DIGITS_NUM_LEVELS = 17


def load_digits(num_levels: int | None) -> ImageDataset:
    digits = sklearn_datasets.load_digits()
    if len(digits.images) != _DIGITS_NUM_EXAMPLES:
        raise ValueError(
            f"scikit-learn's digits dataset has {len(digits.images)} images, "
            f"expected {_DIGITS_NUM_EXAMPLES}; the fixed split relies on it."
        )
    # The bundled values are exact small integers stored as float64.
    images = digits.images.astype(np.uint8)[..., np.newaxis]
    labels = digits.target.astype(np.int32)
    if num_levels is None:
        num_levels = _DIGITS_NUM_LEVELS
    else:
        check_max_value(images, num_levels, f"Dataset '{DIGITS_NAME}'")
    order = np.random.RandomState(SPLIT_SEED).permutation(_DIGITS_NUM_EXAMPLES)
    train, test = order[:_DIGITS_NUM_TRAIN], order[_DIGITS_NUM_TRAIN:]
    return from_arrays(
        DIGITS_NAME, images[train], labels[train], images[test], labels[test],
        num_levels,
    )
