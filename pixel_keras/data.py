"""Image datasets for pixel_keras: embedded digits, .npz files, folders and TFDS.

Every loader returns an `ImageDataset`: a train/test pair of `tf.data`
pipelines whose elements are un-batched dicts

    {"images": uint8 [H, W, C]}                       (unlabelled data)
    {"images": uint8 [H, W, C], "labels": int32 []}   (labelled data)

plus the metadata a model needs (image shape, number of pixel levels, number
of classes). Pixel values are never rescaled, resized or clipped here: data
that does not fit the declared format is rejected with an error that names
the source and the problem.

`tensorflow_datasets` and `scikit-learn` are imported inside the functions
that use them, because importing them is slow and most callers need only one.
"""

from __future__ import annotations

import dataclasses
import os
import zipfile

import numpy as np
import tensorflow as tf

DIGITS_NAME = "digits"
# The digits split is part of the public contract (published numbers are
# computed on it), so these constants must never change.
_DIGITS_NUM_EXAMPLES = 1797
_DIGITS_NUM_TRAIN = 1500
_DIGITS_NUM_LEVELS = 17
_SPLIT_SEED = 0

# Share of a file/folder dataset held out as test when it has no test split.
_TEST_DIVISOR = 10
_IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_NPZ_KEYS = ("images", "labels", "test_images", "test_labels")
_MIN_NUM_LEVELS = 2
_MAX_NUM_LEVELS = 256
# TFDS datasets whose pixels are 0/1 rather than 0..255.
_BINARY_TFDS_DATASETS = ("binarized_mnist",)
# Caps the memory the shuffle buffer takes on large datasets.
_MAX_SHUFFLE_BUFFER_SIZE = 10_000
_MATERIALIZE_CHUNK_SIZE = 1024

_EXPECTED_NAMES = (
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
            f"Expected {_EXPECTED_NAMES}."
        )
    if name == DIGITS_NAME:
        return _load_digits(num_levels)

    path = os.path.expanduser(name)
    if os.path.isdir(path):
        return _load_image_folder(name, path, num_levels)
    if os.path.isfile(path):
        if path.lower().endswith(".npz"):
            return _load_npz(name, path, num_levels)
        raise ValueError(
            f"Dataset file '{name}' is not a .npz archive. Expected "
            f"{_EXPECTED_NAMES}."
        )
    if _looks_like_path(name):
        raise FileNotFoundError(
            f"Dataset path '{name}' does not exist. Expected an existing .npz "
            f"file or image folder (or {_EXPECTED_NAMES})."
        )
    return _load_tfds(name, data_dir, num_levels)


def batched(
    dataset: tf.data.Dataset,
    batch_size: int,
    *,
    shuffle: bool = False,
    seed: int | None = None,
    repeat: bool = False,
    drop_remainder: bool = False,
) -> tf.data.Dataset:
    """Shuffles, repeats, batches and prefetches a pipeline of examples.

    Shuffling happens before repeating, so every epoch is a full pass over
    the data in a fresh order. The shuffle buffer holds the whole dataset
    when its size is known and at most 10,000 examples.

    Args:
        dataset: Un-batched examples, e.g. `load(...).train`.
        batch_size: Examples per batch, a positive integer.
        shuffle: Whether to shuffle, reshuffling on every iteration.
        seed: Shuffle seed; with a seed the order is reproducible.
        repeat: Whether to repeat the data forever.
        drop_remainder: Whether to drop a final smaller batch, which gives
            the batch dimension a static size.

    Returns:
        The batched, prefetched `tf.data.Dataset`.

    Raises:
        ValueError: if `batch_size` is not a positive integer.
        TypeError: if `dataset` is not a `tf.data.Dataset`.

    Example:

    >>> train = batched(load("digits").train, 32, shuffle=True, seed=0)
    >>> next(iter(train))["images"].shape
    TensorShape([32, 8, 8, 1])
    """
    if not isinstance(dataset, tf.data.Dataset):
        raise TypeError(
            f"Argument `dataset` must be a tf.data.Dataset, received "
            f"{type(dataset).__name__}."
        )
    if not _is_integer(batch_size) or batch_size < 1:
        raise ValueError(
            f"Argument `batch_size` must be a positive integer, received "
            f"{batch_size!r}."
        )
    if shuffle:
        cardinality = int(dataset.cardinality())
        buffer_size = _MAX_SHUFFLE_BUFFER_SIZE
        if cardinality > 0:
            buffer_size = min(cardinality, _MAX_SHUFFLE_BUFFER_SIZE)
        dataset = dataset.shuffle(
            buffer_size, seed=seed, reshuffle_each_iteration=True
        )
    if repeat:
        dataset = dataset.repeat()
    dataset = dataset.batch(int(batch_size), drop_remainder=drop_remainder)
    return dataset.prefetch(tf.data.AUTOTUNE)


def images_and_labels(
    dataset: tf.data.Dataset, limit: int | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Materializes a (small) dataset of examples into NumPy arrays.

    Args:
        dataset: Examples as produced by `load` (un-batched), or batches of
            them (they are un-batched first).
        limit: Read at most this many examples; `None` reads everything, so
            never pass an infinite (repeated) dataset without a limit.

    Returns:
        `(images, labels)`: uint8 `(N, H, W, C)` and int32 `(N,)`, or `None`
        for labels when the dataset has none.

    Raises:
        ValueError: if the elements are not `{"images": ...}` dicts of
            images or batches of images, or if `limit` is negative.

    Example:

    >>> images, labels = images_and_labels(load("digits").test, limit=5)
    >>> images.shape, labels.shape
    ((5, 8, 8, 1), (5,))
    """
    if limit is not None and (not _is_integer(limit) or limit < 0):
        raise ValueError(
            f"Argument `limit` must be None or a non-negative integer, "
            f"received {limit!r}."
        )
    spec = dataset.element_spec
    if not isinstance(spec, dict) or "images" not in spec:
        raise ValueError(
            f"Argument `dataset` must yield dicts with an 'images' entry, "
            f"received elements with spec {spec!r}."
        )
    images_rank = spec["images"].shape.rank
    if images_rank == 4:
        dataset = dataset.unbatch()
    elif images_rank != 3:
        raise ValueError(
            f"Argument `dataset` must yield images of shape [H, W, C] (or "
            f"batches [B, H, W, C]), received shape {spec['images'].shape}."
        )
    if limit is not None:
        dataset = dataset.take(int(limit))

    has_labels = "labels" in spec
    image_chunks, label_chunks = [], []
    for chunk in dataset.batch(_MATERIALIZE_CHUNK_SIZE).as_numpy_iterator():
        image_chunks.append(chunk["images"])
        if has_labels:
            label_chunks.append(chunk["labels"])

    image_shape = tuple(dataset.element_spec["images"].shape)
    if image_chunks:
        images = np.concatenate(image_chunks).astype(np.uint8, copy=False)
    elif None not in image_shape:
        images = np.zeros((0, *image_shape), np.uint8)
    else:
        images = np.zeros((0, 0, 0, 0), np.uint8)
    if not has_labels:
        return images, None
    if label_chunks:
        labels = np.concatenate(label_chunks).astype(np.int32, copy=False)
    else:
        labels = np.zeros((0,), np.int32)
    return images, labels


def _is_integer(value) -> bool:
    # bool is an int subclass, but True is never a meaningful size.
    return isinstance(value, (int, np.integer)) and not isinstance(
        value, (bool, np.bool_)
    )


def _validate_num_levels(num_levels) -> None:
    if num_levels is None:
        return
    if not _is_integer(num_levels) or not (
        _MIN_NUM_LEVELS <= num_levels <= _MAX_NUM_LEVELS
    ):
        raise ValueError(
            f"Argument `num_levels` must be None or an integer in "
            f"[{_MIN_NUM_LEVELS}, {_MAX_NUM_LEVELS}], received {num_levels!r}."
        )


def _looks_like_path(name: str) -> bool:
    # TFDS config names contain "/" ("imagenet_resized/32x32"), so a slash
    # alone does not make a path.
    if name in (".", "..") or name.lower().endswith(".npz"):
        return True
    return name.startswith(("/", "./", "../", "~", ".\\", "..\\"))


def _check_max_value(images: np.ndarray, num_levels: int, where: str) -> None:
    max_value = int(images.max())
    if max_value >= num_levels:
        raise ValueError(
            f"{where} has maximum pixel value {max_value}, but "
            f"num_levels={num_levels} allows only values in "
            f"[0, {num_levels - 1}]. Pass a larger `num_levels` or quantize "
            f"the data first; values are never clipped."
        )


def _fixed_split(num_examples: int, where: str) -> tuple[np.ndarray, np.ndarray]:
    """Returns (train, test) indices of a split that never changes."""
    if num_examples < 2:
        raise ValueError(
            f"{where} has {num_examples} example(s); at least 2 are needed to "
            f"hold out a test example. Add more images or explicit test data."
        )
    num_test = max(1, num_examples // _TEST_DIVISOR)
    order = np.random.RandomState(_SPLIT_SEED).permutation(num_examples)
    return order[: num_examples - num_test], order[num_examples - num_test :]


def _from_arrays(
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


def _load_digits(num_levels: int | None) -> ImageDataset:
    from sklearn import datasets as sklearn_datasets

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
        _check_max_value(images, num_levels, f"Dataset '{DIGITS_NAME}'")
    order = np.random.RandomState(_SPLIT_SEED).permutation(_DIGITS_NUM_EXAMPLES)
    train, test = order[:_DIGITS_NUM_TRAIN], order[_DIGITS_NUM_TRAIN:]
    return _from_arrays(
        DIGITS_NAME, images[train], labels[train], images[test], labels[test],
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


def _load_npz(name: str, path: str, num_levels: int | None) -> ImageDataset:
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
        train, test = _fixed_split(len(images), f"File '{name}'")
        train_images, test_images = images[train], images[test]
        train_labels = test_labels = None
        if labels is not None:
            train_labels, test_labels = labels[train], labels[test]

    if num_levels is None:
        num_levels = _MAX_NUM_LEVELS
    else:
        _check_max_value(train_images, num_levels, f"File '{name}' (train images)")
        _check_max_value(test_images, num_levels, f"File '{name}' (test images)")
    return _from_arrays(
        name, train_images, train_labels, test_images, test_labels, num_levels
    )


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


def _load_image_folder(name: str, folder: str, num_levels: int | None) -> ImageDataset:
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
        num_levels = _MAX_NUM_LEVELS
    else:
        _check_max_value(images, num_levels, f"Folder '{name}'")
    train, test = _fixed_split(len(images), f"Folder '{name}'")
    train_labels = test_labels = None
    if label_array is not None:
        train_labels, test_labels = label_array[train], label_array[test]
    return _from_arrays(
        name, images[train], train_labels, images[test], test_labels, num_levels
    )


def _load_tfds(name: str, data_dir: str | None, num_levels: int | None) -> ImageDataset:
    import tensorflow_datasets as tfds

    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except ValueError as error:
        # TFDS's message lists every registered dataset; keep its first line.
        reason = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise ValueError(
            f"Dataset '{name}' is not '{DIGITS_NAME}', not an existing path "
            f"and not a known TFDS dataset (TFDS: {reason}). Expected "
            f"{_EXPECTED_NAMES}."
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
        num_levels = _MIN_NUM_LEVELS if is_binary else _MAX_NUM_LEVELS
    max_value = tf.constant(num_levels - 1, tf.int32)
    # Checking every image costs one reduce_max; skip it when uint8 cannot
    # exceed the range anyway.
    check_range = num_levels < _MAX_NUM_LEVELS

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
