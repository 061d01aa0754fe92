"""Benchmark: our files' bits per sub-pixel against PNG, WebP, JPEG XL, gzip, xz.

On each dataset's test split, a model trained briefly on its train split
(or the newest checkpoint of `--workdir`) compresses the images
(`pixel_keras.compression`), and the classic lossless codecs compress the
same pixels:

* PNG (Pillow, `optimize=True`), WebP lossless (Pillow, `method=6`) and
  JPEG XL lossless (`imagecodecs.jpegxl_encode(..., lossless=True,
  effort=9)`), each image as its own file, and the whole set as one mosaic
  (a near-square grid of the images, one file: what a codec gains from the
  images' shared statistics);
* gzip (level 9) and xz (preset 9e) of the raw uint8 bytes of the set.

The images are stored as they are (the digits' values 0..16 in 8-bit
samples): every codec sees the same integers. Each row gives bits per
sub-pixel (file bits over images x height x width x channels); ours also
the model's own code length (`model.bits_per_dim`), which a file should
match within its header and about one 32-bit word per chunk, and the
encode and decode speed in images/s (traced once first; `verify=False`, so
encoding is timed alone).

Datasets: `digits` (the embedded 8x8 digits, 17 levels) and `digits28`
(benchmarks/digits_npz.py's 28x28 resize, 256 levels), or the path of any
`.npz` that `pixel_keras.data.load` reads.

Usage (from the repository root):

    python benchmarks/compression.py --datasets digits --epochs 30
    python benchmarks/compression.py --datasets digits28 --epochs 3 --limit 100
"""

import argparse
import gzip
import io
import lzma
import math
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import digits_npz  # noqa: E402
import imagecodecs  # noqa: E402
import machine  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from pixel_keras import compression  # noqa: E402
from pixel_keras import data  # noqa: E402
from pixel_keras.models import PixelCNNPlusPlus  # noqa: E402
from pixel_keras.training import checkpointing  # noqa: E402


def load_split(name):
    """`(train_images, test_images)` uint8 of a dataset name."""
    if name == "digits28":
        train, _, test, _ = digits_npz.digits_28x28()
        return train, test
    dataset = data.load(name)
    train, _ = data.images_and_labels(dataset.train)
    test, _ = data.images_and_labels(dataset.test)
    return train, test


def trained_model(train, num_levels, epochs, batch_size, workdir):
    """The newest checkpoint of `workdir`, or a `tiny` PixelCNN++ trained
    for `epochs` on `train` with its recommended optimizer (EMA weights)."""
    if workdir:
        found = checkpointing.load_latest_checkpoint(workdir)
        if found is None:
            raise SystemExit(f"No checkpoint in --workdir {workdir!r}.")
        return found[2], f"checkpoint {os.path.basename(found[1])}"
    model = PixelCNNPlusPlus.from_preset(
        "tiny", image_shape=train.shape[1:], num_levels=num_levels
    )
    model.compile()
    start = time.perf_counter()
    model.fit(train.astype(np.float32), epochs=epochs, batch_size=batch_size, verbose=0)
    return model, f"tiny PixelCNN++, {epochs} epochs ({time.perf_counter() - start:.0f} s)"


def _pillow(image, format_name, **options):
    buffer = io.BytesIO()
    pixels = image[..., 0] if image.shape[-1] == 1 else image
    Image.fromarray(pixels).save(buffer, format_name, **options)
    return len(buffer.getvalue())


def _jpegxl(image):
    pixels = image[..., 0] if image.shape[-1] == 1 else image
    return len(imagecodecs.jpegxl_encode(pixels, lossless=True, effort=9))


CODECS = {
    "PNG": lambda image: _pillow(image, "PNG", optimize=True),
    "WebP lossless": lambda image: _pillow(image, "WEBP", lossless=True, quality=100, method=6),
    "JPEG XL lossless": _jpegxl,
}


def mosaic(images):
    """The images on a near-square grid, zero padded: one image."""
    count, height, width, channels = images.shape
    columns = math.ceil(math.sqrt(count))
    rows = math.ceil(count / columns)
    grid = np.zeros([rows * columns, height, width, channels], images.dtype)
    grid[:count] = images
    grid = grid.reshape(rows, columns, height, width, channels).transpose(0, 2, 1, 3, 4)
    return np.ascontiguousarray(grid.reshape(rows * height, columns * width, channels))


def run(name, args):
    train, test = load_split(name)
    if args.limit:
        test = test[: args.limit]
    num_levels = 17 if name == "digits" else 256
    model, origin = trained_model(
        train, num_levels, args.epochs, args.train_batch_size, args.workdir
    )
    subpixels = test.size
    rows = []

    def row(codec, num_bytes, note=""):
        rows.append((codec, 8.0 * num_bytes / subpixels, note))

    model_bits = float(np.mean(model.bits_per_dim(test.astype(np.float32)).numpy()))
    # Traced once, on a batch of the size timed.
    compression.compress(model, test[: args.batch_size], batch_size=args.batch_size, verify=False)
    start = time.perf_counter()
    file = compression.compress(model, test, batch_size=args.batch_size, verify=False)
    encode_seconds = time.perf_counter() - start
    start = time.perf_counter()
    decoded = compression.decompress(model, file)
    decode_seconds = time.perf_counter() - start
    if not np.array_equal(decoded, test):
        raise SystemExit("The file did not decode to the test images.")
    header = compression.read_header(file)
    payload = sum(chunk.num_bytes for chunk in header.chunks)
    row(
        "pixel_keras (this model)",
        len(file),
        f"{len(test) / encode_seconds:.1f} img/s encode, {len(test) / decode_seconds:.1f} img/s "
        f"decode; header {len(file) - payload} B",
    )
    rows.append(("  the model's -log2 p(x)", model_bits, "model.bits_per_dim"))
    for codec, encode in CODECS.items():
        row(f"{codec}, each image", sum(encode(image) for image in test))
        row(f"{codec}, one mosaic", encode(mosaic(test)))
    raw = test.astype(np.uint8).tobytes()
    row("gzip -9, raw bytes", len(gzip.compress(raw, compresslevel=9)))
    row("xz -9e, raw bytes", len(lzma.compress(raw, preset=9 | lzma.PRESET_EXTREME)))
    row("raw uint8", len(raw))

    print(
        f"\n{name}: {len(test)} test images {test.shape[1:]}, {num_levels} levels; model: "
        f"{origin}; batch {args.batch_size}"
    )
    print(f"| codec | bits/sub-pixel | vs ours | notes |\n|---|---:|---:|---|")
    ours = rows[0][1]
    for codec, bits, note in rows:
        print(f"| {codec} | {bits:.3f} | {bits / ours:.2f}x | {note} |")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--datasets", default="digits", help="comma-separated: digits, digits28, or .npz paths"
    )
    parser.add_argument("--epochs", type=int, default=30, help="training epochs (no --workdir)")
    parser.add_argument("--train_batch_size", type=int, default=64)
    parser.add_argument("--batch_size", type=int, default=64, help="images per chunk")
    parser.add_argument("--limit", type=int, default=None, help="test images used (all by default)")
    parser.add_argument(
        "--workdir", default=None, help="load the newest checkpoint instead of training"
    )
    machine.add_thread_arguments(parser)
    args = parser.parse_args(argv)
    machine.set_threads(parser, args)
    print(machine.machine_summary())
    for name in args.datasets.split(","):
        run(name.strip(), args)


if __name__ == "__main__":
    main()
