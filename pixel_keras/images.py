"""Writing images: sample grids and per-pixel heatmaps as PNG files."""

import os
import tempfile

import numpy as np
import tensorflow as tf

# Anchor colours of a perceptually ordered dark-to-bright map (black, purple,
# orange, pale yellow), interpolated linearly for heatmaps.
_HEATMAP_ANCHORS = np.array(
    [[0, 0, 4], [81, 18, 124], [183, 55, 121], [252, 137, 97], [252, 253, 191]],
    dtype=np.float64,
)


def _current_umask():
    """The process's umask: reading it means setting it, so it is set back
    at once (no file is created in between by this function)."""
    umask = os.umask(0o077)
    os.umask(umask)
    return umask


def write_file_atomically(path, data):
    """Writes bytes to `path` through a temporary file and a rename.

    A crash leaves either the old file or the new one, never half of it.
    The file gets the mode the user's umask gives a new file (`0o666 &
    ~umask`), as with `open(path, "w")`, not the temporary file's 0o600.
    """
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".tmp-")
    try:
        with os.fdopen(handle, "wb") as file:
            os.fchmod(file.fileno(), 0o666 & ~_current_umask())
            file.write(data)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise


def image_grid(images, num_levels, columns=None, scale=None, padding=1):
    """Tiles images into one uint8 grid image.

    Args:
        images: integer array `(N, H, W, C)` with values in `[0, num_levels - 1]`,
            `C` in {1, 3}.
        num_levels: number of values per channel, used to stretch the values
            to `[0, 255]`.
        columns: images per row; defaults to about `sqrt(N)`.
        scale: integer nearest-neighbour upscaling, so small images are
            visible; defaults to about 64 / H (8 for 8x8 digits, 2 for 32x32).
        padding: pixels of padding between images (before scaling).

    Returns:
        uint8 array `(rows * (H + padding) * scale, ..., C)`.
    """
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(
            "Expected `images` of shape (N, H, W, C) with C in {1, 3}. "
            f"Received: shape={images.shape}"
        )
    num, height, width, channels = images.shape
    scale = scale or max(1, 64 // height)
    columns = columns or int(np.ceil(np.sqrt(num)))
    rows = int(np.ceil(num / columns))
    stretched = np.round(images.astype(np.float64) * (255.0 / (num_levels - 1)))
    cell_h, cell_w = height + padding, width + padding
    grid = np.full(
        (rows * cell_h + padding, columns * cell_w + padding, channels),
        255,
        dtype=np.uint8,
    )
    for index in range(num):
        row, col = divmod(index, columns)
        top, left = padding + row * cell_h, padding + col * cell_w
        grid[top : top + height, left : left + width] = stretched[index]
    return np.repeat(np.repeat(grid, scale, axis=0), scale, axis=1)


def heatmap(values, scale=16):
    """Colours a 2-D array of non-negative values, brightest at the maximum.

    Returns:
        uint8 `(H * scale, W * scale, 3)` image.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2:
        raise ValueError(f"Expected a 2-D array. Received: shape={values.shape}")
    top = values.max() if values.size and values.max() > 0 else 1.0
    position = np.clip(values / top, 0.0, 1.0) * (len(_HEATMAP_ANCHORS) - 1)
    lower = np.minimum(position.astype(int), len(_HEATMAP_ANCHORS) - 2)
    weight = (position - lower)[..., None]
    colours = (1 - weight) * _HEATMAP_ANCHORS[lower] + weight * _HEATMAP_ANCHORS[lower + 1]
    colours = np.round(colours).astype(np.uint8)
    return np.repeat(np.repeat(colours, scale, axis=0), scale, axis=1)


def write_png(path, image):
    """Writes a uint8 `(H, W, C)` array as a PNG, atomically."""
    write_file_atomically(path, tf.io.encode_png(np.asarray(image, np.uint8)).numpy())
