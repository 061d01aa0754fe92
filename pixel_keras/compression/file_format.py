"""The compressed file: a header that says what it holds, then the chunks.

All integers are little-endian. Layout (docs/compression.md):

```none
magic            4 bytes  b"PXKC"
version          1 byte   FORMAT_VERSION
header length    u32      N, the bytes of the header body
header body      N bytes  (below)
header CRC32     u32      of every byte before it (magic to body's end)
chunk 0 .. n-1            each chunk's range-coder words (u32), back to back
```

The header body:

```none
family           u8 length + ASCII   the model's class name
compute dtype    u8 length + ASCII   e.g. "float32"
condition        u8 length + ASCII   "none", "labels:<classes>", "values:<d1>x<d2>"
config digest    16 bytes            SHA-256 of the architecture config
weights digest   16 bytes            SHA-256 of the weights
height, width, channels, levels      u32 each
count            u64                 images in the file
batch size       u32                 images per chunk (the last may hold fewer)
coder            u8                  CODER_CONSTRICTION_RANGE
condition data   u64 length + bytes  labels (u8, u16 or u32 each) or float32 values
chunk table      12 bytes per chunk  u32 byte length, u32 CRC32 of the bytes,
                                     u32 CRC32 of the decoded pixels
```

`parse` checks, in this order and before anything is decoded: the magic
number, the version, that the header fits in the data, its CRC32, the
sizes against the limits below, that the chunk table and condition have the
lengths the sizes imply, that the chunks fill the rest of the file
exactly, and each chunk's CRC32.
"""

import dataclasses
import math
import struct
import zlib

import numpy as np

from pixel_keras.compression import errors
from pixel_keras.compression.fingerprint import DIGEST_BYTES
from pixel_keras.compression.fingerprint import ModelFingerprint

MAGIC = b"PXKC"
FORMAT_VERSION = 1
# `constriction.stream.queue.RangeEncoder`, `Categorical(perfect=False)`.
CODER_CONSTRICTION_RANGE = 1

# The header's limits: a forged or damaged header that asks for more is
# refused before anything is allocated.
MAX_SIDE = 2**16
MAX_CHANNELS = 2**12
MAX_LEVELS = 2**16
MAX_BATCH = 2**16
MAX_COUNT = 2**32
# Decoded sub-pixels in one file: 32 GiB as uint8.
MAX_SUBPIXELS = 2**35

_PREFIX = struct.Struct("<4sBI")
_CRC = struct.Struct("<I")
_SIZES = struct.Struct("<IIIIQIB")
_CHUNK = struct.Struct("<III")


@dataclasses.dataclass(frozen=True)
class Chunk:
    """One batch's entry in the chunk table."""

    num_bytes: int
    bytes_crc: int
    pixels_crc: int


@dataclasses.dataclass(frozen=True)
class Header:
    """What a file holds (see the module docstring)."""

    model: ModelFingerprint
    count: int
    batch_size: int
    condition_data: bytes
    chunks: tuple
    coder: int = CODER_CONSTRICTION_RANGE

    @property
    def num_chunks(self):
        return num_chunks(self.count, self.batch_size)

    def chunk_images(self, index):
        """`(first, stop)`: the images of chunk `index`."""
        first = index * self.batch_size
        return first, min(first + self.batch_size, self.count)


def num_chunks(count, batch_size):
    return -(-count // batch_size)


def label_width(num_classes):
    """Bytes per stored class label: the narrowest unsigned int."""
    return 1 if num_classes <= 2**8 else 2 if num_classes <= 2**16 else 4


def condition_bytes_per_image(condition):
    """Bytes of one image's condition for a fingerprint's `condition`."""
    kind, _, detail = condition.partition(":")
    if kind == "labels":
        return label_width(int(detail))
    if kind == "values":
        return 4 * math.prod(int(d) for d in detail.split("x"))
    return 0


def pixels_crc(images):
    """CRC32 of decoded images, little-endian in their dtype."""
    images = np.ascontiguousarray(images)
    return zlib.crc32(images.astype(images.dtype.newbyteorder("<"), copy=False).tobytes())


def _text(value):
    encoded = value.encode("ascii")
    if len(encoded) > 255:
        raise ValueError(f"Expected at most 255 ASCII characters. Received: {value!r}")
    return bytes([len(encoded)]) + encoded


def pack(header, chunk_data):
    """The whole file: header, its CRC32, and the chunks' bytes.

    Args:
        header: a `Header`.
        chunk_data: one `bytes` per chunk, as the table says.
    """
    model = header.model
    body = b"".join(
        [
            _text(model.family),
            _text(model.compute_dtype),
            _text(model.condition),
            model.config_digest,
            model.weights_digest,
            _SIZES.pack(
                *model.image_shape,
                model.num_levels,
                header.count,
                header.batch_size,
                header.coder,
            ),
            struct.pack("<Q", len(header.condition_data)),
            header.condition_data,
            b"".join(_CHUNK.pack(c.num_bytes, c.bytes_crc, c.pixels_crc) for c in header.chunks),
        ]
    )
    prefix = _PREFIX.pack(MAGIC, FORMAT_VERSION, len(body)) + body
    return b"".join([prefix, _CRC.pack(zlib.crc32(prefix)), *chunk_data])


class _Reader:
    """Reads the header body field by field; running out is corruption (the
    header's CRC32 matched, so its lengths disagree with one another)."""

    def __init__(self, body):
        self.body, self.offset = body, 0

    def take(self, size, what):
        if self.offset + size > len(self.body):
            raise errors.CorruptFileError(
                f"The file's header ends inside its {what}: {len(self.body)} bytes of header "
                f"body, {self.offset + size} needed. The header is inconsistent (written by "
                "another program?)."
            )
        value = self.body[self.offset : self.offset + size]
        self.offset += size
        return value

    def text(self, what):
        return self.take(self.take(1, what)[0], what).decode("ascii", errors="replace")


def _check_limit(name, value, low, high):
    if not low <= value <= high:
        raise errors.HeaderLimitError(
            f"The file's header asks for {name}={value}, outside this format's limits "
            f"[{low}, {high}]; refused before allocating anything (a damaged or forged "
            "header)."
        )


def parse(data):
    """The header of a file, checked; and the chunks' bytes.

    Args:
        data: the file's bytes.

    Returns:
        `(header, chunks)`: a `Header`, and a list of one `bytes` per chunk.

    Raises:
        NotCompressedImagesError, UnsupportedVersionError, TruncatedFileError,
        CorruptFileError, HeaderLimitError: see `pixel_keras.compression.errors`.
    """
    data = memoryview(bytes(data))
    if len(data) < len(MAGIC) or bytes(data[: len(MAGIC)]) != MAGIC:
        raise errors.NotCompressedImagesError(
            f"Expected a file of compressed images, starting with the magic number "
            f"{MAGIC!r}. Received: {bytes(data[:len(MAGIC)])!r} ({len(data)} bytes in all)"
        )
    if len(data) < _PREFIX.size:
        raise errors.TruncatedFileError(
            f"The file ends after {len(data)} bytes, inside its header."
        )
    _, version, body_length = _PREFIX.unpack_from(data)
    if version != FORMAT_VERSION:
        raise errors.UnsupportedVersionError(
            f"The file is in format version {version}; this library reads version "
            f"{FORMAT_VERSION}. A newer pixel_keras wrote it, or it is damaged."
        )
    header_end = _PREFIX.size + body_length
    if len(data) < header_end + _CRC.size:
        raise errors.TruncatedFileError(
            f"The file ends after {len(data)} bytes; its header alone needs "
            f"{header_end + _CRC.size}. The file is truncated (or its header damaged)."
        )
    (expected_crc,) = _CRC.unpack_from(data, header_end)
    if zlib.crc32(data[:header_end]) != expected_crc:
        raise errors.CorruptFileError(
            "The file's header does not match its CRC32: the header is damaged (a changed "
            "byte in its first "
            f"{header_end + _CRC.size} bytes)."
        )
    reader = _Reader(bytes(data[_PREFIX.size : header_end]))
    family = reader.text("model class")
    compute_dtype = reader.text("compute dtype")
    condition = reader.text("condition")
    config_digest = reader.take(DIGEST_BYTES, "config digest")
    weights_digest = reader.take(DIGEST_BYTES, "weights digest")
    height, width, channels, levels, count, batch_size, coder = _SIZES.unpack(
        reader.take(_SIZES.size, "sizes")
    )
    _check_limit("height", height, 1, MAX_SIDE)
    _check_limit("width", width, 1, MAX_SIDE)
    _check_limit("channels", channels, 1, MAX_CHANNELS)
    _check_limit("levels", levels, 2, MAX_LEVELS)
    _check_limit("count", count, 1, MAX_COUNT)
    _check_limit("batch_size", batch_size, 1, min(MAX_BATCH, count))
    subpixels = count * height * width * channels
    _check_limit("count * height * width * channels", subpixels, 1, MAX_SUBPIXELS)
    if coder != CODER_CONSTRICTION_RANGE:
        raise errors.UnsupportedVersionError(
            f"The file's chunks are coded with coder {coder}; this library decodes coder "
            f"{CODER_CONSTRICTION_RANGE} (constriction's range coder)."
        )
    try:
        per_image = condition_bytes_per_image(condition)
    except ValueError:
        raise errors.CorruptFileError(
            f"The file's header names an unreadable condition {condition!r}."
        ) from None
    (condition_length,) = struct.unpack("<Q", reader.take(8, "condition length"))
    if condition_length != count * per_image:
        raise errors.CorruptFileError(
            f"The file's header holds {condition_length} bytes of condition; {count} images "
            f"with condition {condition!r} need {count * per_image}."
        )
    condition_data = reader.take(condition_length, "condition")
    chunks = tuple(
        Chunk(*_CHUNK.unpack(reader.take(_CHUNK.size, "chunk table")))
        for _ in range(num_chunks(count, batch_size))
    )
    if reader.offset != len(reader.body):
        raise errors.CorruptFileError(
            f"The file's header body has {len(reader.body) - reader.offset} bytes after its "
            "chunk table."
        )
    header = Header(
        model=ModelFingerprint(
            family=family,
            image_shape=(height, width, channels),
            num_levels=levels,
            compute_dtype=compute_dtype,
            condition=condition,
            config_digest=config_digest,
            weights_digest=weights_digest,
        ),
        count=count,
        batch_size=batch_size,
        condition_data=condition_data,
        chunks=chunks,
        coder=coder,
    )
    return header, _chunk_bytes(header, data, header_end + _CRC.size)


def _chunk_bytes(header, data, offset):
    """Each chunk's bytes, their lengths and CRC32s checked."""
    needed = sum(chunk.num_bytes for chunk in header.chunks)
    if len(data) - offset < needed:
        raise errors.TruncatedFileError(
            f"The file is truncated: its chunks need {needed} bytes after the header, "
            f"{len(data) - offset} remain ({len(data)} bytes in all, "
            f"{offset + needed} expected)."
        )
    if len(data) - offset > needed:
        raise errors.CorruptFileError(
            f"The file has {len(data) - offset - needed} bytes after its last chunk "
            f"({len(data)} bytes in all, {offset + needed} expected)."
        )
    pieces = []
    for index, chunk in enumerate(header.chunks):
        piece = bytes(data[offset : offset + chunk.num_bytes])
        offset += chunk.num_bytes
        first, stop = header.chunk_images(index)
        if chunk.num_bytes % 4:
            raise errors.CorruptFileError(
                f"Chunk {index} (images {first} to {stop - 1}) has {chunk.num_bytes} bytes, "
                "not a whole number of 32-bit words."
            )
        if zlib.crc32(piece) != chunk.bytes_crc:
            raise errors.CorruptFileError(
                f"Chunk {index} (images {first} to {stop - 1}) does not match its CRC32: "
                "its bytes are damaged."
            )
        pieces.append(piece)
    return pieces
