"""Writes the embedded digits as a user's `.npz` of 28x28 images, 256 levels.

A stand-in for a user's own 28x28 data (MNIST is not downloadable
everywhere): the 8x8 digits (17 levels) with their train/test split, resized
bilinearly to 28x28 and rescaled to 0-255. Keys `images`, `labels`,
`test_images`, `test_labels`, as `--dataset my_images.npz` reads them.

Usage (from the repository root):

    python benchmarks/digits_npz.py /tmp/digits28.npz
    python benchmarks/quality.py --dataset /tmp/digits28.npz \\
        --models pixel_cnn_pp --dtype_policies float32,mixed_bfloat16

Other benchmarks take `--dataset digits28` for the same data, read through
`load()` without a file to keep.
"""

import argparse
import os
import tempfile

import numpy as np

# The name other benchmarks' `--dataset` flags give these images.
NAME = "digits28"


def digits_28x28():
    """The digits' `(images, labels, test_images, test_labels)`, 28x28x1
    uint8 in [0, 255]."""
    import tensorflow as tf

    from pixel_keras import data

    digits = data.load("digits")
    arrays = []
    for split in (digits.train, digits.test):
        images, labels = data.images_and_labels(split)
        images = tf.image.resize(images.astype(np.float32), (28, 28), method="bilinear")
        images = np.clip(np.round(images.numpy() * 255.0 / 16.0), 0, 255)
        arrays += [images.astype(np.uint8), labels.astype(np.int32)]
    return arrays


def _write(path):
    """Writes the 28x28 digits to `path`, a `.npz`."""
    images, labels, test_images, test_labels = digits_28x28()
    np.savez_compressed(
        path,
        images=images,
        labels=labels,
        test_images=test_images,
        test_labels=test_labels,
    )
    return len(images), len(test_images)


def load(num_levels=None):
    """The 28x28 digits as `pixel_keras.data.load` reads a user's `.npz`
    (written to a temporary folder, read, and deleted)."""
    from pixel_keras import data

    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, f"{NAME}.npz")
        _write(path)
        return data.load(path, num_levels=num_levels)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("output", help="the .npz to write (must not exist)")
    args = parser.parse_args(argv)
    if os.path.exists(args.output):
        parser.error(f"{args.output!r} exists; not overwritten.")
    temporary = f"{args.output}.tmp-{os.getpid()}.npz"
    num_train, num_test = _write(temporary)
    os.replace(temporary, args.output)
    print(f"Wrote {args.output}: {num_train} train and {num_test} test images, 28x28x1.")


if __name__ == "__main__":
    main()
