"""Image datasets from TensorFlow Datasets (TFDS)."""

from __future__ import annotations

import tensorflow as tf
import tensorflow_datasets as tfds

from pixel_keras.data.image_dataset import DIGITS_NAME
from pixel_keras.data.image_dataset import EXPECTED_NAMES
from pixel_keras.data.image_dataset import MAX_NUM_LEVELS
from pixel_keras.data.image_dataset import MIN_NUM_LEVELS
from pixel_keras.data.image_dataset import ImageDataset

# TFDS datasets whose pixels are 0/1 rather than 0..255.
_BINARY_TFDS_DATASETS = ("binarized_mnist",)


def load_tfds(name: str, data_dir: str | None, num_levels: int | None) -> ImageDataset:
    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except ValueError as error:
        # TFDS's message lists every registered dataset; keep its first line.
        reason = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise ValueError(
            f"Dataset '{name}' is not '{DIGITS_NAME}', not an existing path "
            f"and not a known TFDS dataset (TFDS: {reason}). Expected "
            f"{EXPECTED_NAMES}."
        ) from None
    try:
        # A no-op when the dataset is already prepared in `data_dir`.
        builder.download_and_prepare()
    except Exception as error:
        raise RuntimeError(
            f"TFDS dataset '{name}' is not prepared in data_dir={data_dir!r} "
            f"and could not be downloaded ({type(error).__name__}: {error}). "
            f"TFDS datasets need network access, or a `data_dir` where the "
            f"dataset was prepared beforehand (e.g. `tfds build {name} "
            f"--data_dir=DIR` on a machine with network)."
        ) from error

    info = builder.info
    feature_names = list(info.features.keys())
    if "image" not in feature_names:
        raise ValueError(
            f"TFDS dataset '{name}' has no 'image' feature (features: "
            f"{feature_names}); expected an image dataset such as 'mnist'."
        )
    image_feature = info.features["image"]
    image_shape = tuple(image_feature.shape)
    if len(image_shape) != 3 or None in image_shape:
        raise ValueError(
            f"TFDS dataset '{name}' has images of shape {image_shape}; "
            f"expected a fixed (H, W, C) shape. Use a resized variant such "
            f"as 'imagenet_resized/32x32'."
        )
    if image_feature.dtype != tf.uint8:
        raise ValueError(
            f"TFDS dataset '{name}' has images of dtype "
            f"{image_feature.dtype.name}, expected uint8."
        )
    label_feature = info.features["label"] if "label" in feature_names else None
    num_classes = getattr(label_feature, "num_classes", None)
    has_labels = num_classes is not None

    split_names = set(info.splits.keys())
    if split_names:
        if "train" not in split_names:
            raise ValueError(
                f"TFDS dataset '{name}' has splits {sorted(split_names)}, "
                f"expected a 'train' split."
            )
        test_split = next(
            (split for split in ("test", "validation") if split in split_names),
            None,
        )
        if test_split is None:
            raise ValueError(
                f"TFDS dataset '{name}' has splits {sorted(split_names)}, "
                f"expected a 'test' or 'validation' split."
            )
    else:
        # Split metadata is unknown (e.g. under `tfds.testing.mock_data`);
        # assume the conventional names.
        test_split = "test"

    if num_levels is None:
        is_binary = builder.name in _BINARY_TFDS_DATASETS
        num_levels = MIN_NUM_LEVELS if is_binary else MAX_NUM_LEVELS
    max_value = tf.constant(num_levels - 1, tf.int32)
    # Checking every image costs one reduce_max; skip it when uint8 cannot
    # exceed the range anyway.
    check_range = num_levels < MAX_NUM_LEVELS

    def to_example(features):
        images = tf.ensure_shape(features["image"], image_shape)
        if check_range:
            in_range = tf.debugging.assert_less_equal(
                tf.reduce_max(tf.cast(images, tf.int32)),
                max_value,
                message=(
                    f"TFDS dataset '{name}' has a pixel value outside "
                    f"[0, {num_levels - 1}] (num_levels={num_levels})"
                ),
            )
            with tf.control_dependencies([in_range]):
                images = tf.identity(images)
        example = {"images": images}
        if has_labels:
            example["labels"] = tf.cast(features["label"], tf.int32)
        return example

    def split_dataset(split):
        dataset = builder.as_dataset(split=split, shuffle_files=False)
        return dataset.map(to_example, num_parallel_calls=tf.data.AUTOTUNE)

    def split_size(split):
        return info.splits[split].num_examples if split in split_names else None

    return ImageDataset(
        name=name,
        train=split_dataset("train"),
        test=split_dataset(test_split),
        image_shape=tuple(int(size) for size in image_shape),
        num_levels=num_levels,
        num_classes=int(num_classes) if has_labels else None,
        num_train_examples=split_size("train"),
        num_test_examples=split_size(test_split),
    )
