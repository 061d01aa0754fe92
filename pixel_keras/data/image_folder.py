"""Image datasets stored as folders of PNG/JPEG files."""

from __future__ import annotations

import os

import numpy as np
import tensorflow as tf

from pixel_keras.data.image_dataset import MAX_NUM_LEVELS
from pixel_keras.data.image_dataset import ImageDataset
from pixel_keras.data.image_dataset import check_max_value
from pixel_keras.data.image_dataset import fixed_split
from pixel_keras.data.image_dataset import from_arrays

_IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _list_images(folder: str) -> list[str]:
    return sorted(
        entry.path
        for entry in os.scandir(folder)
        if entry.is_file()
        and not entry.name.startswith(".")
        and entry.name.lower().endswith(_IMAGE_EXTENSIONS)
    )


def _decode_image_file(path: str) -> np.ndarray:
    with open(path, "rb") as file:
        encoded = file.read()
    # decode_image would silently rescale 16-bit PNGs to 8 bits; the bit
    # depth is byte 24 of a PNG (inside the IHDR chunk).
    if encoded.startswith(_PNG_SIGNATURE) and len(encoded) > 24 and encoded[24] == 16:
        raise ValueError(
            f"Image file '{path}' is a 16-bit PNG, expected 8-bit images "
            f"(values in [0, 255]); convert it to 8 bits first."
        )
    try:
        image = tf.io.decode_image(encoded, expand_animations=False)
    except (tf.errors.InvalidArgumentError, tf.errors.UnknownError) as error:
        raise ValueError(
            f"Could not decode image file '{path}' as PNG or JPEG: "
            f"{error.message}"
        ) from error
    return image.numpy()


def load_image_folder(name: str, folder: str, num_levels: int | None) -> ImageDataset:
    class_folders = sorted(
        entry.path
        for entry in os.scandir(folder)
        if entry.is_dir() and not entry.name.startswith(".")
    )
    top_level_images = _list_images(folder)
    extensions = "/".join(_IMAGE_EXTENSIONS)
    if class_folders and top_level_images:
        raise ValueError(
            f"Folder '{name}' has both image files (e.g. "
            f"'{top_level_images[0]}') and sub-folders (e.g. "
            f"'{class_folders[0]}'); expected either images directly inside "
            f"it (unlabelled) or one sub-folder of images per class."
        )
    if class_folders:
        paths, labels = [], []
        for class_index, class_folder in enumerate(class_folders):
            class_images = _list_images(class_folder)
            if not class_images:
                raise ValueError(
                    f"Class sub-folder '{class_folder}' of '{name}' contains "
                    f"no {extensions} images; expected at least one image in "
                    f"every class sub-folder."
                )
            paths.extend(class_images)
            labels.extend([class_index] * len(class_images))
        label_array = np.asarray(labels, np.int32)
    else:
        if not top_level_images:
            raise ValueError(
                f"Folder '{name}' contains no {extensions} images; expected "
                f"images directly inside it or in one sub-folder per class."
            )
        paths, label_array = top_level_images, None

    first_image = _decode_image_file(paths[0])
    images = np.empty((len(paths), *first_image.shape), np.uint8)
    images[0] = first_image
    for index, path in enumerate(paths[1:], start=1):
        image = _decode_image_file(path)
        if image.shape != first_image.shape:
            raise ValueError(
                f"Image '{path}' has shape {image.shape} (H, W, C), but "
                f"'{paths[0]}' has shape {first_image.shape}; all images in "
                f"'{name}' must have the same size and channel count "
                f"(images are never resized)."
            )
        images[index] = image

    if num_levels is None:
        num_levels = MAX_NUM_LEVELS
    else:
        check_max_value(images, num_levels, f"Folder '{name}'")
    train, test = fixed_split(len(images), f"Folder '{name}'")
    train_labels = test_labels = None
    if label_array is not None:
        train_labels, test_labels = label_array[train], label_array[test]
    return from_arrays(
        name, images[train], train_labels, images[test], test_labels, num_levels
    )
