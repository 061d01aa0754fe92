"""The images `compress` reads (`--input`) and `decompress` writes
(`--output`).

`--input` is a `.npz`, a folder of images, or `<dataset>:<split>`:

- a `.npz`: its `images` (`(N, H, W)` or `(N, H, W, C)` integers), in the
  file's order, with its `labels` (class labels) or `condition` (condition
  values) if it holds them: what `decompress` writes, so a round trip gives
  the same file back;
- a folder of PNG/JPEG images: every image, in the order of their sorted
  paths (`pixel_keras.data` reads them, and labels them by class
  sub-folder);
- `<dataset>:<split>`, `split` one of `SPLITS`: the split of any
  `--dataset` name, in the dataset's order (`digits:test`, `mnist:test`,
  `my_images.npz:test`).

`--output` of `decompress` is a `.npz` (`images`, and `labels` or
`condition` when the file holds one) or a folder of PNGs, one per image,
holding the raw pixel values (a digit's 0..16 are not stretched to 0..255:
read back, they are the same pixels). Both are written atomically: a
temporary file or folder beside the output, renamed when complete.
"""

import io
import os
import tempfile
import types

import numpy as np
import tensorflow as tf

from pixel_keras import data as data_lib
from pixel_keras import images as images_lib
from pixel_keras.data.image_dataset import fixed_split

SPLITS = ("train", "test")
# The arrays of a `.npz` input; `decompress` writes the first and one of the
# other two.
NPZ_KEYS = ("images", "labels", "condition")
# The pixel values a PNG holds: 8 bits per channel, 1 to 4 channels.
PNG_MAX_LEVELS = 256
PNG_CHANNELS = (1, 2, 3, 4)


def _parse_input(source):
    """`(dataset name or path, split)`: split None for a whole .npz or folder.

    Raises:
        ValueError: for a `<name>:<split>` whose split is not in `SPLITS`,
            or a name that is neither an existing path nor has a split.
        FileNotFoundError: for a path (a name ending in `.npz`, or
            starting with `/`, `./`, `../` or `~`) that does not exist.
    """
    path = os.path.expanduser(source)
    if os.path.exists(path):
        return path, None
    name, colon, split = source.rpartition(":")
    if colon and name:
        if split not in SPLITS:
            raise ValueError(
                f"Expected --input=<dataset>:<split> with split in {', '.join(SPLITS)}. "
                f"Received: --input={source!r} (split {split!r})."
            )
        return name, split
    if source.lower().endswith(".npz") or source.startswith(("/", "./", "../", "~")):
        raise FileNotFoundError(f"--input={source!r} does not exist.")
    raise ValueError(
        f"Expected --input to be a .npz, a folder of images or <dataset>:<split> "
        f"(e.g. {source}:test). Received: --input={source!r}, which is no existing path."
    )


def _read_npz(path):
    """Every image of a `.npz`'s `images`, in order, with its `labels` or
    `condition`."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except (OSError, ValueError) as error:
        raise ValueError(f"Could not read --input={path!r} as a .npz archive: {error}") from error
    if "images" not in arrays:
        raise ValueError(
            f"Expected --input={path!r} to hold an 'images' array. Received the arrays "
            f"{sorted(arrays)}."
        )
    images = arrays["images"]
    if not np.issubdtype(images.dtype, np.integer) or images.ndim not in (3, 4):
        raise ValueError(
            f"Expected the 'images' of --input={path!r} to be integers of shape "
            f"(N, H, W) or (N, H, W, C). Received: dtype {images.dtype}, shape {images.shape}."
        )
    if images.ndim == 3:
        images = images[..., np.newaxis]
    labels, condition = arrays.get("labels"), arrays.get("condition")
    if labels is not None and (
        not np.issubdtype(labels.dtype, np.integer) or labels.shape != images.shape[:1]
    ):
        raise ValueError(
            f"Expected the 'labels' of --input={path!r} to be one integer per image, "
            f"shape ({len(images)},). Received: dtype {labels.dtype}, shape {labels.shape}."
        )
    if condition is not None and condition.shape[:1] != images.shape[:1]:
        raise ValueError(
            f"Expected the 'condition' of --input={path!r} to hold one row per image "
            f"({len(images)}). Received: shape {condition.shape}."
        )
    return images, labels, condition


def _read_folder(path, data_dir):
    """Every image of a folder, in the order of their sorted paths.

    `pixel_keras.data` reads the folder into a fixed train/test split
    (`fixed_split`, which never changes); putting the two back at their
    indices gives the folder's own order.
    """
    dataset = data_lib.load(path, data_dir=data_dir)
    train_images, train_labels = data_lib.images_and_labels(dataset.train)
    test_images, test_labels = data_lib.images_and_labels(dataset.test)
    count = len(train_images) + len(test_images)
    train, test = fixed_split(count, f"Folder {path!r}")
    images = np.empty((count, *dataset.image_shape), np.uint8)
    images[train], images[test] = train_images, test_images
    labels = None
    if train_labels is not None:
        labels = np.empty([count], np.int32)
        labels[train], labels[test] = train_labels, test_labels
    return images, labels


def read_input(source, data_dir=None):
    """The images `--input` names (see the module's docstring).

    Returns:
        A namespace of `images` `(N, H, W, C)`, `labels` `(N,)` or None,
        `condition` (values) or None, and `description`, how a message
        names the input.

    Raises:
        ValueError, FileNotFoundError: for an input that does not exist or
            cannot be read as images.
    """
    path, split = _parse_input(source)
    labels = condition = None
    if split is not None:
        dataset = data_lib.load(path, data_dir=data_dir)
        images, labels = data_lib.images_and_labels(getattr(dataset, split))
        description = f"the {split} split of {path}"
    elif os.path.isdir(path):
        images, labels = _read_folder(path, data_dir)
        description = f"the folder {source}"
    elif path.lower().endswith(".npz"):
        images, labels, condition = _read_npz(path)
        description = source
    else:
        raise ValueError(
            f"Expected --input to be a .npz, a folder of images or <dataset>:<split>. "
            f"Received: --input={source!r}, a file that is not a .npz."
        )
    if len(images) == 0:
        raise ValueError(f"--input={source!r} holds no images.")
    return types.SimpleNamespace(
        images=images, labels=labels, condition=condition, description=description
    )


def is_npz(path):
    """Whether `decompress` writes `path` as a `.npz` (else as a folder)."""
    return path.lower().endswith(".npz")


def check_png_output(path, image_shape, num_levels):
    """Refuses a folder of PNGs for images that PNG files cannot hold
    exactly, before anything is decoded.

    Raises:
        ValueError: for more than `PNG_MAX_LEVELS` levels or a number of
            channels outside `PNG_CHANNELS`.
    """
    channels = image_shape[-1]
    if num_levels > PNG_MAX_LEVELS or channels not in PNG_CHANNELS:
        raise ValueError(
            f"--output={path!r} is a folder of 8-bit PNGs, which hold {PNG_CHANNELS} "
            f"channels of at most {PNG_MAX_LEVELS} levels; the file holds images "
            f"{tuple(image_shape)} of {num_levels} levels. Pass an --output ending in .npz."
        )


def write_npz(path, images, labels=None, condition=None):
    """Writes `images` (and `labels` or `condition`) as a `.npz`, atomically."""
    arrays = {"images": images}
    if labels is not None:
        arrays["labels"] = labels
    if condition is not None:
        arrays["condition"] = condition
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    images_lib.write_file_atomically(path, buffer.getvalue())


def png_name(index, count):
    """The file of image `index` of `count` in a folder `decompress` writes:
    zero-padded, so that sorted names are in the images' order."""
    return f"{index:0{max(6, len(str(count - 1)))}d}.png"


def write_png_folder(path, images):
    """Creates the folder `path` with one PNG per image, atomically: written
    into a temporary folder beside it, renamed when complete.

    Raises:
        FileExistsError: when `path` appeared meanwhile (nothing is
            overwritten).
    """
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    temporary = tempfile.mkdtemp(dir=parent, prefix=".tmp-")
    try:
        # The mode a new folder gets (`mkdtemp` makes it 0o700).
        umask = os.umask(0o077)
        os.umask(umask)
        os.chmod(temporary, 0o777 & ~umask)
        for index, image in enumerate(images):
            encoded = tf.io.encode_png(np.asarray(image, np.uint8)).numpy()
            with open(os.path.join(temporary, png_name(index, len(images))), "wb") as file:
                file.write(encoded)
        if os.path.lexists(path):
            raise FileExistsError(
                f"{path!r} exists; choose another --output (nothing is overwritten)."
            )
        os.rename(temporary, path)
    except BaseException:
        for name in os.listdir(temporary) if os.path.isdir(temporary) else ():
            os.remove(os.path.join(temporary, name))
        if os.path.isdir(temporary):
            os.rmdir(temporary)
        raise
