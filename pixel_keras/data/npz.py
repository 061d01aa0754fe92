"""Image datasets stored in NumPy `.npz` archives."""

from __future__ import annotations

import logging
import zipfile

import numpy as np

from pixel_keras.data.image_dataset import MAX_NUM_LEVELS
from pixel_keras.data.image_dataset import ImageDataset
from pixel_keras.data.image_dataset import check_max_value
from pixel_keras.data.image_dataset import fixed_split
from pixel_keras.data.image_dataset import from_arrays

_NPZ_KEYS = ("images", "labels", "test_images", "test_labels")

logger = logging.getLogger(__name__)


def _warn_if_binarized(
    name: str, train_images: np.ndarray, test_images: np.ndarray, num_levels: int
) -> None:
    """Logs a warning when every pixel is 0 or 1 but `num_levels` is not 2:
    such data look binarized, and a model of more levels spends its
    probability on values that never occur (and reports bits/dim that
    cannot be compared with binary models')."""
    if num_levels == 2:
        return
    if max(int(train_images.max()), int(test_images.max())) > 1:
        return
    logger.warning(
        "File '%s' has only the pixel values 0 and 1, but num_levels=%d: it looks "
        "binarized. Pass num_levels=2 (main.py: --num_levels=2) to model it as "
        "binary images.",
        name,
        num_levels,
    )


def _npz_images(array: np.ndarray, key: str, source: str) -> np.ndarray:
    """Validates an image array from a .npz file and returns it as 4-D."""
    where = f"Array '{key}' in '{source}'"
    if array.dtype != np.uint8:
        raise ValueError(
            f"{where} has dtype {array.dtype}, expected uint8. Convert it "
            f"with `array.astype(np.uint8)` after checking that the values "
            f"are integers in [0, 255]."
        )
    if array.ndim not in (3, 4):
        raise ValueError(
            f"{where} has shape {array.shape} ({array.ndim} dimensions), "
            f"expected (N, H, W) or (N, H, W, C)."
        )
    if array.size == 0:
        raise ValueError(
            f"{where} is empty (shape {array.shape}), expected at least one "
            f"image with non-zero height, width and channels."
        )
    if array.ndim == 3:
        array = array[..., np.newaxis]
    return array


def _npz_labels(
    array: np.ndarray, key: str, num_images: int, images_key: str, source: str
) -> np.ndarray:
    """Validates a label array from a .npz file and returns it as int32."""
    where = f"Array '{key}' in '{source}'"
    if not np.issubdtype(array.dtype, np.integer):
        raise ValueError(
            f"{where} has dtype {array.dtype}, expected integer class "
            f"indices. Convert it with `array.astype(np.int32)` if the values "
            f"are whole numbers."
        )
    if array.ndim != 1:
        raise ValueError(
            f"{where} has shape {array.shape}, expected (N,) with one label "
            f"per image."
        )
    if len(array) != num_images:
        raise ValueError(
            f"{where} has {len(array)} labels but '{images_key}' has "
            f"{num_images} images; expected one label per image."
        )
    min_label, max_label = int(array.min()), int(array.max())
    if min_label < 0:
        raise ValueError(
            f"{where} contains the negative label {min_label}, expected class "
            f"indices in [0, num_classes)."
        )
    if max_label > np.iinfo(np.int32).max:
        raise ValueError(
            f"{where} contains the label {max_label}, expected class indices "
            f"that fit in int32."
        )
    return array.astype(np.int32)


def load_npz(name: str, path: str, num_levels: int | None) -> ImageDataset:
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile) as error:
        raise ValueError(
            f"Could not read '{name}' as a NumPy .npz archive: {error}"
        ) from error
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ValueError(
            f"File '{name}' holds a single array, expected a .npz archive "
            f"with an 'images' array (save it with `np.savez(path, "
            f"images=...)`)."
        )
    with archive:
        keys = list(archive.files)
        if "images" not in keys:
            raise ValueError(
                f"File '{name}' has no 'images' array; found keys {keys}. "
                f"Expected 'images' and optionally {list(_NPZ_KEYS[1:])}."
            )
        unknown_keys = [key for key in keys if key not in _NPZ_KEYS]
        if unknown_keys:
            # Rejecting extras catches typos such as 'label' that would
            # otherwise silently drop the labels.
            raise ValueError(
                f"File '{name}' has unexpected keys {unknown_keys}; expected "
                f"only {list(_NPZ_KEYS)}."
            )
        try:
            arrays = {key: archive[key] for key in keys}
        except (OSError, ValueError, zipfile.BadZipFile) as error:
            raise ValueError(
                f"Could not read the arrays in '{name}' (object arrays are "
                f"not supported): {error}"
            ) from error

    images = _npz_images(arrays["images"], "images", name)
    labels = None
    if "labels" in arrays:
        labels = _npz_labels(arrays["labels"], "labels", len(images), "images", name)

    if "test_images" in arrays:
        test_images = _npz_images(arrays["test_images"], "test_images", name)
        if test_images.shape[1:] != images.shape[1:]:
            raise ValueError(
                f"Array 'test_images' in '{name}' holds images of shape "
                f"{test_images.shape[1:]}, but 'images' holds images of shape "
                f"{images.shape[1:]}; expected the same (H, W, C)."
            )
        has_test_labels = "test_labels" in arrays
        if (labels is not None) != has_test_labels:
            present, missing = (
                ("labels", "test_labels") if labels is not None
                else ("test_labels", "labels")
            )
            raise ValueError(
                f"File '{name}' has '{present}' but no '{missing}'; expected "
                f"labels for both splits or for neither."
            )
        test_labels = None
        if has_test_labels:
            test_labels = _npz_labels(
                arrays["test_labels"], "test_labels", len(test_images),
                "test_images", name,
            )
        train_images, train_labels = images, labels
    else:
        if "test_labels" in arrays:
            raise ValueError(
                f"File '{name}' has 'test_labels' but no 'test_images'; "
                f"expected both or neither."
            )
        train, test = fixed_split(len(images), f"File '{name}'")
        train_images, test_images = images[train], images[test]
        train_labels = test_labels = None
        if labels is not None:
            train_labels, test_labels = labels[train], labels[test]

    if num_levels is None:
        num_levels = MAX_NUM_LEVELS
    else:
        check_max_value(train_images, num_levels, f"File '{name}' (train images)")
        check_max_value(test_images, num_levels, f"File '{name}' (test images)")
    _warn_if_binarized(name, train_images, test_images, num_levels)
    return from_arrays(
        name, train_images, train_labels, test_images, test_labels, num_levels
    )
