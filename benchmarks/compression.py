"""Benchmark: our files' bits per sub-pixel against PNG, WebP, JPEG XL, gzip, xz,
and decoding speed against the cached sampler at the same batch.

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
sub-pixel (file bits over images x height x width x channels). Ours has
three: the whole file, its coded payload alone (the chunks' range-coder
words, without the header), and the model's own code length (the mean of
`model.bits_per_dim`), which the payload should match within about a
32-bit word per chunk.

Speed, in images/s, each traced once first: encoding (`verify=False`, so it
is timed alone), decoding, and the cached sampler drawing as many images at
the same batch (`model.sample` of one chunk's batch, once per chunk, as
the decoder runs), with its default `jit_compile` (XLA where the loop
compiles) and without XLA (the coder's loop runs without XLA: its hook is
a host callback per sub-pixel).

Datasets: `digits` (the embedded 8x8 digits, 17 levels) and `digits28`
(benchmarks/digits_npz.py's 28x28 resize, 256 levels), or the path of any
`.npz` that `pixel_keras.data.load` reads.

Usage (from the repository root):

    python benchmarks/compression.py --datasets digits --epochs 30
    python main.py train --recipe=pixel_cnn_pp/digits --epochs=60 --workdir=runs/digits60
    python benchmarks/compression.py --datasets digits --workdir=runs/digits60 \
        --batch_sizes 256,32,128,512
    python benchmarks/compression.py --datasets digits28 --epochs 12 --limit 100

The last three are docs/compression.md's "Speed and size" (about 10, 1.5
and 15 minutes on 2 shared CPU cores).
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
from pixel_keras.compression import file_format  # noqa: E402
from pixel_keras.models import PixelCNNPlusPlus  # noqa: E402
from pixel_keras.training import checkpointing  # noqa: E402


def load_split(name):
    """`(train_images, test_images, num_levels)` of a dataset name; the
    images uint8."""
    if name == "digits28":
        train, _, test, _ = digits_npz.digits_28x28()
        return train, test, 256
    dataset = data.load(name)
    train, _ = data.images_and_labels(dataset.train)
    test, _ = data.images_and_labels(dataset.test)
    return train, test, dataset.num_levels


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


def _images_per_second(count, function):
    start = time.perf_counter()
    result = function()
    return count / (time.perf_counter() - start), result


def _sampler_speed(model, count, batch, jit_compile):
    """Images/s of `model.sample` drawing `count` images in chunks of
    `batch` (the last padded, as the decoder runs it); traced first."""
    num_chunks = -(-count // batch)

    def draw():
        for index in range(num_chunks):
            model.sample(batch, seed=[index, 0], jit_compile=jit_compile).numpy()

    model.sample(batch, seed=[0, 1], jit_compile=jit_compile).numpy()
    return _images_per_second(count, draw)[0]


def _mean_bits_per_dim(model, images, batch_size=256):
    bits = [
        model.bits_per_dim(images[first : first + batch_size].astype(np.float32)).numpy()
        for first in range(0, len(images), batch_size)
    ]
    return float(np.mean(np.concatenate(bits).astype(np.float64)))


def _coding_speeds(model, test, batch_size):
    """The file at `batch_size` and its speeds: `(file, encode, decode,
    sampler, sampler without XLA)` in images/s, each traced once first."""
    count = len(test)
    batch = file_format.chunk_batch_size(count, batch_size)
    compression.compress(model, test[:batch], batch_size=batch, verify=False)
    encode, file = _images_per_second(
        count, lambda: compression.compress(model, test, batch_size=batch_size, verify=False)
    )
    decode, decoded = _images_per_second(count, lambda: compression.decompress(model, file))
    if not np.array_equal(decoded, test):
        raise SystemExit("The file did not decode to the test images.")
    sampler = _sampler_speed(model, count, batch, None)
    sampler_no_xla = _sampler_speed(model, count, batch, False)
    return file, encode, decode, sampler, sampler_no_xla


def run(name, args):
    train, test, num_levels = load_split(name)
    if args.limit:
        test = test[: args.limit]
    model, origin = trained_model(
        train, num_levels, args.epochs, args.train_batch_size, args.workdir
    )
    subpixels = test.size
    print(f"\n{name}: load average at the start: {_load_average()}")
    model_bits = _mean_bits_per_dim(model, test)
    speeds = [
        (batch_size, *_coding_speeds(model, test, batch_size))
        for batch_size in args.batch_sizes
    ]
    file = speeds[0][1]
    header = compression.read_header(file)
    header_bytes = file_format.header_size(file)
    payload = len(file) - header_bytes

    rows = []

    def row(codec, num_bytes, note=""):
        rows.append((codec, 8.0 * num_bytes / subpixels, note))

    row(
        "pixel_keras, the whole file",
        len(file),
        f"{len(file):,} B: header {header_bytes} B ({header.num_chunks} "
        f"chunk{'s' if header.num_chunks > 1 else ''} of {header.batch_size}), "
        f"payload {payload:,} B",
    )
    row("pixel_keras, its coded payload", payload, "the chunks' range-coder words")
    rows.append(("the model's -log2 p(x)", model_bits, "mean of model.bits_per_dim"))
    classical = []
    for codec, encode in CODECS.items():
        row(f"{codec}, each image", sum(encode(image) for image in test))
        row(f"{codec}, one mosaic", encode(mosaic(test)))
        classical += rows[-2:]
    raw = test.astype(np.uint8).tobytes()
    row("gzip -9, raw bytes", len(gzip.compress(raw, compresslevel=9)))
    row("xz -9e, raw bytes", len(lzma.compress(raw, preset=9 | lzma.PRESET_EXTREME)))
    classical += rows[-2:]
    row("raw uint8", len(raw))

    print(
        f"\n{name}: {len(test)} test images {test.shape[1:]}, {num_levels} levels; model: "
        f"{origin}; batch_size {args.batch_sizes[0]}"
    )
    print("| codec | bits/sub-pixel | vs our file | notes |\n|---|---:|---:|---|")
    ours = rows[0][1]
    for codec, bits, note in rows:
        print(f"| {codec} | {bits:.3f} | {bits / ours:.2f}x | {note} |")
    best_codec, best_bits, _ = min(classical, key=lambda entry: entry[1])
    print(
        f"\nBest classical codec: {best_codec}, {best_bits:.3f} bits/sub-pixel, "
        f"{best_bits / ours:.2f}x our file's (above 1: ours is smaller; "
        f"{best_bits / rows[1][1]:.2f}x its payload, {best_bits / model_bits:.2f}x the "
        f"model's code length). Over the model's bits/dim: "
        f"the file {100 * (ours / model_bits - 1):+.2f}%, "
        f"its payload {100 * (rows[1][1] / model_bits - 1):+.2f}%."
    )
    print(
        "\n| batch_size | chunks | file bits/dim | header B | encode img/s | decode img/s "
        "| sampler img/s | sampler img/s, no XLA | decode / sampler | decode / sampler, "
        "no XLA |\n|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    )
    for batch_size, file, encode, decode, sampler, sampler_no_xla in speeds:
        header = compression.read_header(file)
        print(
            f"| {batch_size} | {header.num_chunks} of {header.batch_size} "
            f"| {8 * len(file) / subpixels:.4f} | {file_format.header_size(file)} "
            f"| {encode:.1f} | {decode:.1f} | {sampler:.1f} | {sampler_no_xla:.1f} "
            f"| {decode / sampler:.2f} | {decode / sampler_no_xla:.2f} |"
        )
    print(f"\n{name}: load average at the end: {_load_average()}")


def _load_average():
    return ", ".join(f"{load:.2f}" for load in os.getloadavg())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--datasets", default="digits", help="comma-separated: digits, digits28, or .npz paths"
    )
    parser.add_argument("--epochs", type=int, default=30, help="training epochs (no --workdir)")
    parser.add_argument(
        "--train_batch_size", type=int, default=32, help="the digits recipe's batch: 32"
    )
    parser.add_argument(
        "--batch_sizes",
        type=lambda text: [int(size) for size in text.split(",")],
        default=[compression.DEFAULT_BATCH_SIZE],
        help="comma-separated: the most images per chunk (compress's batch_size), each "
        "timed; the first one's file is compared with the other codecs",
    )
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
