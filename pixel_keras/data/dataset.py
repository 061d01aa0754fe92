"""`load`: resolves a dataset name or path to its source and loads it."""

from __future__ import annotations

import os

from pixel_keras.data.digits import load_digits
from pixel_keras.data.image_dataset import DIGITS_NAME
from pixel_keras.data.image_dataset import EXPECTED_NAMES
from pixel_keras.data.image_dataset import MAX_NUM_LEVELS
from pixel_keras.data.image_dataset import MIN_NUM_LEVELS
from pixel_keras.data.image_dataset import ImageDataset
from pixel_keras.data.image_dataset import is_integer
from pixel_keras.data.image_folder import load_image_folder
from pixel_keras.data.npz import load_npz
from pixel_keras.data.tfds import load_tfds


def load(
    name: str = DIGITS_NAME,
    *,
    data_dir: str | None = None,
    num_levels: int | None = None,
) -> ImageDataset:
    """Loads an image dataset by name or path.

    `name` is resolved in this order:

    1. `"digits"`: scikit-learn's bundled 8x8 handwritten digits (1,797
       images, values 0..16 so 17 levels, 10 classes). Needs no network. The
       train/test split (1,500/297) is fixed forever.
    2. An existing path, or a name that looks like one (ends with `.npz`,
       or starts with `/`, `./`, `../` or `~`):
       - a `.npz` file with `images` (N, H, W) or (N, H, W, C) uint8, and
         optionally `labels` (N,) integers, `test_images` and `test_labels`;
       - a directory of PNG/JPEG files, either directly inside it
         (unlabelled) or in one sub-folder per class (labels are the indices
         of the sorted sub-folder names). Files with other extensions and
         hidden entries are ignored.
       Without explicit test data, a fixed 10% (at least one example) is
       held out as test. A bare name such as `mnist` counts as a path only
       when it exists on disk; write `./mnist` to insist on the path.
    3. Anything else is a TensorFlow Datasets name (e.g. `"mnist"`,
       `"binarized_mnist"`, `"cifar10"`, `"imagenet_resized/32x32"`), read
       from its "train" split and its "test" split ("validation" when there
       is no "test"). This needs network access, or a `data_dir` where the
       dataset was prepared beforehand.

    Args:
        name: `"digits"`, a path to a `.npz` file or image folder, or a TFDS
            dataset name.
        data_dir: TFDS data directory. Ignored for the other sources.
        num_levels: Number of pixel levels, an integer in [2, 256]. Defaults
            to 17 for digits, 2 for `binarized_mnist` and 256 otherwise.
            Data with a pixel value >= `num_levels` is rejected (for TFDS,
            when the offending example is read).

    Returns:
        An `ImageDataset`.

    Raises:
        ValueError: if `num_levels` is not an integer in [2, 256], if `name`
            is neither digits, a path nor a known TFDS name, or if the data
            is malformed (wrong dtype, rank, shape, labels or pixel range).
        FileNotFoundError: if `name` looks like a path that does not exist.
        RuntimeError: if a known TFDS dataset can be neither found in
            `data_dir` nor downloaded.

    Example:

    >>> dataset = load("digits")
    >>> dataset.num_train_examples, dataset.num_test_examples
    (1500, 297)
    >>> next(iter(dataset.train))["images"].shape
    TensorShape([8, 8, 1])
    """
    _validate_num_levels(num_levels)
    if isinstance(name, os.PathLike):
        name = os.fspath(name)
    if not isinstance(name, str) or not name:
        raise ValueError(
            f"Argument `name` must be a non-empty string, received {name!r}. "
            f"Expected {EXPECTED_NAMES}."
        )
    if name == DIGITS_NAME:
        return load_digits(num_levels)

    path = os.path.expanduser(name)
    if os.path.isdir(path):
        return load_image_folder(name, path, num_levels)
    if os.path.isfile(path):
        if path.lower().endswith(".npz"):
            return load_npz(name, path, num_levels)
        raise ValueError(
            f"Dataset file '{name}' is not a .npz archive. Expected "
            f"{EXPECTED_NAMES}."
        )
    if _looks_like_path(name):
        raise FileNotFoundError(
            f"Dataset path '{name}' does not exist. Expected an existing .npz "
            f"file or image folder (or {EXPECTED_NAMES})."
        )
    return load_tfds(name, data_dir, num_levels)


def _validate_num_levels(num_levels) -> None:
    if num_levels is None:
        return
    if not is_integer(num_levels) or not (
        MIN_NUM_LEVELS <= num_levels <= MAX_NUM_LEVELS
    ):
        raise ValueError(
            f"Argument `num_levels` must be None or an integer in "
            f"[{MIN_NUM_LEVELS}, {MAX_NUM_LEVELS}], received {num_levels!r}."
        )


def _looks_like_path(name: str) -> bool:
    # TFDS config names contain "/" ("imagenet_resized/32x32"), so a slash
    # alone does not make a path.
    if name in (".", "..") or name.lower().endswith(".npz"):
        return True
    return name.startswith(("/", "./", "../", "~", ".\\", "..\\"))
