"""`tf.data` pipelines over the examples of an `ImageDataset`."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from pixel_keras.data.image_dataset import is_integer

# Caps the memory the shuffle buffer takes on large datasets.
_MAX_SHUFFLE_BUFFER_SIZE = 10_000
_MATERIALIZE_CHUNK_SIZE = 1024


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
    if not is_integer(batch_size) or batch_size < 1:
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
    if limit is not None and (not is_integer(limit) or limit < 0):
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
