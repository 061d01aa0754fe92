"""Image datasets for pixel_keras: embedded digits, .npz files, folders and TFDS.

Every loader returns an `ImageDataset`: a train/test pair of `tf.data`
pipelines whose elements are un-batched dicts

    {"images": uint8 [H, W, C]}                       (unlabelled data)
    {"images": uint8 [H, W, C], "labels": int32 []}   (labelled data)

plus the metadata a model needs (image shape, number of pixel levels, number
of classes). Pixel values are never rescaled, resized or clipped here: data
that does not fit the declared format is rejected with an error that names
the source and the problem.

`load` (in `dataset.py`) resolves a name or path to one source module
(`digits`, `npz`, `image_folder`, `tfds`); `batched` and `images_and_labels`
(in `pipelines.py`) turn the examples into batches or NumPy arrays.
"""

from pixel_keras.data.dataset import load
from pixel_keras.data.image_dataset import DIGITS_NAME
from pixel_keras.data.image_dataset import ImageDataset
from pixel_keras.data.pipelines import batched
from pixel_keras.data.pipelines import images_and_labels

__all__ = [
    "DIGITS_NAME",
    "ImageDataset",
    "batched",
    "images_and_labels",
    "load",
]
