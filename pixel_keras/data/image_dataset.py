"""`ImageDataset` and the checks that every data source shares.

The source modules (`digits`, `npz`, `image_folder`, `tfds`) import this
module; it imports none of them, so `load` (in `dataset.py`) can dispatch to
the sources without an import cycle.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf

DIGITS_NAME = "digits"
# Seeds the fixed splits. The digits split is part of the public contract
# (published numbers are computed on it), so this must never change.
SPLIT_SEED = 0
MIN_NUM_LEVELS = 2
MAX_NUM_LEVELS = 256

# Share of a file/folder dataset held out as test when it has no test split.
_TEST_DIVISOR = 10

EXPECTED_NAMES = (
    f"'{DIGITS_NAME}' (embedded, no network), a path to an existing .npz "
    "file or folder of PNG/JPEG images, or a TensorFlow Datasets name such "
    "as 'mnist', 'binarized_mnist', 'cifar10' or 'imagenet_resized/32x32' "
    "(TFDS names need network access or a `data_dir` where the dataset was "
    "prepared)"
)


@dataclasses.dataclass(frozen=True)
class ImageDataset:
    """A train/test pair of `tf.data` pipelines of un-batched examples plus metadata.

    Args:
        name: The name or path the dataset was loaded from.
        train: Training examples, each `{"images": uint8 [H, W, C]}` plus
            `"labels": int32 []` when the dataset is labelled.
        test: Test examples with the same element spec as `train`.
        image_shape: `(H, W, C)` of every image.
        num_levels: Pixel values are integers in `[0, num_levels - 1]`.
        num_classes: Number of classes, or `None` when there are no labels.
        num_train_examples: Size of `train`, or `None` when unknown.
        num_test_examples: Size of `test`, or `None` when unknown.

    Example:

    >>> dataset = load("digits")
    >>> dataset.image_shape, dataset.num_levels, dataset.num_classes
    ((8, 8, 1), 17, 10)
    """

    name: str
    train: tf.data.Dataset
    test: tf.data.Dataset
    image_shape: tuple[int, int, int]
    num_levels: int
    num_classes: int | None
    num_train_examples: int | None
    num_test_examples: int | None


def is_integer(value) -> bool:
    # bool is an int subclass, but True is never a meaningful size.
    return isinstance(value, (int, np.integer)) and not isinstance(
        value, (bool, np.bool_)
    )


def check_max_value(images: np.ndarray, num_levels: int, where: str) -> None:
    max_value = int(images.max())
    if max_value >= num_levels:
        raise ValueError(
            f"{where} has maximum pixel value {max_value}, but "
            f"num_levels={num_levels} allows only values in "
            f"[0, {num_levels - 1}]. Pass a larger `num_levels` or quantize "
            f"the data first; values are never clipped."
        )


def fixed_split(num_examples: int, where: str) -> tuple[np.ndarray, np.ndarray]:
    """Returns (train, test) indices of a split that never changes."""
    if num_examples < 2:
        raise ValueError(
            f"{where} has {num_examples} example(s); at least 2 are needed to "
            f"hold out a test example. Add more images or explicit test data."
        )
    num_test = max(1, num_examples // _TEST_DIVISOR)
    order = np.random.RandomState(SPLIT_SEED).permutation(num_examples)
    return order[: num_examples - num_test], order[num_examples - num_test :]


def from_arrays(
    name: str,
    train_images: np.ndarray,
    train_labels: np.ndarray | None,
    test_images: np.ndarray,
    test_labels: np.ndarray | None,
    num_levels: int,
) -> ImageDataset:
    def to_dataset(images, labels):
        examples = {"images": images}
        if labels is not None:
            examples["labels"] = labels
        return tf.data.Dataset.from_tensor_slices(examples)

    num_classes = None
    if train_labels is not None:
        num_classes = int(max(train_labels.max(), test_labels.max())) + 1
    return ImageDataset(
        name=name,
        train=to_dataset(train_images, train_labels),
        test=to_dataset(test_images, test_labels),
        image_shape=tuple(int(size) for size in train_images.shape[1:]),
        num_levels=num_levels,
        num_classes=num_classes,
        num_train_examples=len(train_images),
        num_test_examples=len(test_images),
    )
