"""The compressed file: a header that says what it holds, then the chunks.

Format version 3 (docs/compression.md). Sizes and lengths are unsigned
LEB128 varints (7 bits a byte, low bits first, the top bit set on every
byte but the last); fixed-width integers are little-endian.

```none
magic            4 bytes  b"PXKC"
version          1 byte   FORMAT_VERSION (3: chunks coded by constriction's
                          range coder with Categorical(perfect=False) pmfs)
file CRC32       u32      of every byte after it: the header's fields and
                          the chunks
model class      u8       FAMILY_CODES; 0: a u8 length + ASCII name follows
compute dtype    u8       DTYPE_CODES; 0: a u8 length + ASCII name follows
condition        u8       0 none; 1 labels, varint classes;
                          2 values, varint rank, varint per dimension
config digest    4 bytes  SHA-256 of the architecture config, truncated
weights digest   4 bytes  SHA-256 of the weights, truncated
height, width, channels, levels   varint each
count            varint   images in the file
batch size       varint   images per chunk (the last may hold fewer)
chunk table      per chunk: varint byte length, u32 CRC32 of its decoded pixels
condition data            labels packed LSB first at `label_bits` bits
                          each, or float32 values; its length follows
                          from the condition and the count
chunk 0 .. n-1            each chunk's range-coder words (u32), back to back
```

Every byte counts on small images: the 297 test digits (8x8) take about
4,060 bytes at 1.71 bits/dim, so 1% is 40 bytes. Version 3 spends 34 on
them in one chunk: one CRC32 for the whole file (version 2 had one for its
header and one for its chunks, 4 bytes more), 4-byte digests (8 bytes
less), and the coder named by the version (a byte less).

Versions 1 and 2 are refused as unsupported versions.

`parse` checks, in this order and before anything is decoded: the magic
number, the version, the header's fields one by one as they are read (a
file that ends inside them is truncated; sizes beyond the limits below are
refused before anything is allocated; the chunk table and condition have
the lengths the sizes imply), that the chunks fill the rest of the file
exactly, the file's CRC32, and each chunk's length and the labels.
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
FORMAT_VERSION = 3
# `constriction.stream.queue.RangeEncoder`, `Categorical(perfect=False)`:
# the coder of every version-3 file (not stored: the version implies it).
CODER_CONSTRICTION_RANGE = 1

# One byte for the names every file of this library's models holds; code 0
# spells out any other name (a user's own subclass, a dtype not listed).
FAMILY_CODES = {
    "PixelCNNPlusPlus": 1,
    "PixelCNN": 2,
    "PixelRNN": 3,
    "GatedPixelCNN": 4,
    "PixelSNAIL": 5,
}
DTYPE_CODES = {"float32": 1, "float16": 2, "bfloat16": 3, "float64": 4}
_CONDITION_KINDS = ("none", "labels", "values")

# The header's limits: a forged or damaged header that asks for more is
# refused before anything is allocated.
MAX_SIDE = 2**16
MAX_CHANNELS = 2**12
MAX_LEVELS = 2**16
MAX_BATCH = 2**16
MAX_COUNT = 2**32
MAX_CLASSES = 2**32
MAX_CONDITION_RANK = 8
MAX_CONDITION_VALUES = 2**24
# Decoded sub-pixels in one file: 32 GiB as uint8.
MAX_SUBPIXELS = 2**35
# The longest varint read: 10 bytes hold any value below 2**70.
_MAX_VARINT_BYTES = 10

_CRC = struct.Struct("<I")


@dataclasses.dataclass(frozen=True)
class Chunk:
    """One batch's entry in the chunk table."""

    num_bytes: int
    pixels_crc: int


@dataclasses.dataclass(frozen=True)
class Header:
    """What a file holds (see the module docstring).

    Attributes:
        model: the `ModelFingerprint` of the model that wrote it.
        count: images in the file.
        batch_size: images per chunk, and the batch every chunk is decoded at.
        condition_data: the condition as stored (packed labels or float32
            values; empty for none).
        chunks: one `Chunk` per chunk.
        coder: the entropy coder of the chunks (implied by the version).
    """

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


def chunk_batch_size(count, batch_size):
    """The images per chunk for `count` images and at most `batch_size`:
    the fewest chunks, as even as they can be (the last holds fewer only
    when `count` does not divide), so the last chunk's padding, computed
    but not coded, stays small."""
    return -(-count // num_chunks(count, batch_size))


def label_bits(num_classes):
    """Bits per stored class label: enough for `num_classes - 1`."""
    return (num_classes - 1).bit_length()


def pack_labels(labels, num_classes):
    """Labels in `[0, num_classes)` at `label_bits` bits each, LSB first."""
    width = label_bits(num_classes)
    labels = np.asarray(labels, np.uint64)
    bits = (labels[:, None] >> np.arange(width, dtype=np.uint64)) & np.uint64(1)
    return np.packbits(bits.astype(np.uint8).ravel(), bitorder="little").tobytes()


def unpack_labels(data, num_classes, count):
    """The `count` int64 labels `pack_labels` stored in `data`."""
    width = label_bits(num_classes)
    bits = np.unpackbits(np.frombuffer(data, np.uint8), count=count * width, bitorder="little")
    bits = bits.reshape(count, width)
    labels = np.zeros([count], np.int64)
    for position in range(width):
        labels |= bits[:, position].astype(np.int64) << position
    return labels


def condition_length(condition, count):
    """Bytes of the stored condition of `count` images, for a fingerprint's
    `condition` (`"none"`, `"labels:<classes>"`, `"values:<d1>x<d2>..."`)."""
    kind, _, detail = condition.partition(":")
    if kind == "labels":
        return -(-count * label_bits(int(detail)) // 8)
    if kind == "values":
        return 4 * count * math.prod(int(d) for d in detail.split("x"))
    return 0


def read_condition(header):
    """The condition a file holds: int64 labels `(count,)`, float32 values
    `(count, *shape)`, or None."""
    kind, _, detail = header.model.condition.partition(":")
    if kind == "labels":
        return unpack_labels(header.condition_data, int(detail), header.count)
    if kind == "values":
        shape = [int(d) for d in detail.split("x")]
        values = np.frombuffer(header.condition_data, "<f4").astype(np.float32)
        return values.reshape([header.count, *shape])
    return None


def pixels_crc(images):
    """CRC32 of decoded images, little-endian in their dtype."""
    images = np.ascontiguousarray(images)
    return zlib.crc32(images.astype(images.dtype.newbyteorder("<"), copy=False).tobytes())


def varint(value):
    """`value` (an int >= 0) as an unsigned LEB128 varint."""
    if value < 0:
        raise ValueError(f"Expected an int >= 0 for a varint. Received: {value}")
    encoded = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        encoded.append(low | (0x80 if value else 0))
        if not value:
            return bytes(encoded)


def read_varint(data, offset):
    """`(value, offset after it)` of the varint at `data[offset:]`, or
    `(None, offset)` when the data ends inside it (or it runs on past 10
    bytes)."""
    value = 0
    for index in range(_MAX_VARINT_BYTES):
        if offset + index >= len(data):
            return None, offset
        byte = data[offset + index]
        value |= (byte & 0x7F) << (7 * index)
        if not byte & 0x80:
            return value, offset + index + 1
    return None, offset


def _name(value, codes):
    """A name as its one-byte code, or 0 and the name spelled out."""
    if value in codes:
        return bytes([codes[value]])
    encoded = value.encode("ascii")
    if len(encoded) > 255:
        raise ValueError(f"Expected at most 255 ASCII characters. Received: {value!r}")
    return bytes([0, len(encoded)]) + encoded


def _condition(condition):
    kind, _, detail = condition.partition(":")
    if kind == "labels":
        return bytes([1]) + varint(int(detail))
    if kind == "values":
        shape = [int(d) for d in detail.split("x")]
        return bytes([2]) + varint(len(shape)) + b"".join(varint(d) for d in shape)
    return bytes([0])


def pack(header, chunk_data):
    """The whole file: magic, version, CRC32, header fields and chunks.

    Args:
        header: a `Header`.
        chunk_data: one `bytes` per chunk, as the table says.
    """
    model = header.model
    fields = b"".join(
        [
            _name(model.family, FAMILY_CODES),
            _name(model.compute_dtype, DTYPE_CODES),
            _condition(model.condition),
            model.config_digest,
            model.weights_digest,
            *(varint(size) for size in (*model.image_shape, model.num_levels)),
            varint(header.count),
            varint(header.batch_size),
            *(varint(c.num_bytes) + _CRC.pack(c.pixels_crc) for c in header.chunks),
            header.condition_data,
        ]
    )
    crc = zlib.crc32(b"".join(chunk_data), zlib.crc32(fields))
    return b"".join([MAGIC, bytes([FORMAT_VERSION]), _CRC.pack(crc), fields, *chunk_data])


# The header's fields start after the magic number, version and CRC32.
_FIELDS_START = len(MAGIC) + 1 + _CRC.size


class _Reader:
    """Reads the header's fields one by one; a file that ends inside them
    is truncated."""

    def __init__(self, data):
        self.data, self.offset = data, _FIELDS_START

    def _truncated(self, what, needed):
        return errors.TruncatedFileError(
            f"The file ends inside its header's {what}: {len(self.data)} bytes in all, "
            f"at least {needed} needed. The file is truncated (or its header damaged)."
        )

    def take(self, size, what):
        if self.offset + size > len(self.data):
            raise self._truncated(what, self.offset + size)
        value = bytes(self.data[self.offset : self.offset + size])
        self.offset += size
        return value

    def byte(self, what):
        return self.take(1, what)[0]

    def varint(self, what):
        value, offset = read_varint(self.data, self.offset)
        if value is None:
            if len(self.data) - self.offset >= _MAX_VARINT_BYTES:
                raise errors.CorruptFileError(
                    f"The file's header gives its {what} as a varint of more than "
                    f"{_MAX_VARINT_BYTES} bytes: the header is damaged."
                )
            raise self._truncated(what, self.offset + 1)
        self.offset = offset
        return value

    def name(self, codes, what):
        code = self.byte(what)
        if code == 0:
            return self.take(self.byte(what), what).decode("ascii", errors="replace")
        for name, known in codes.items():
            if known == code:
                return name
        raise errors.CorruptFileError(
            f"The file's header gives {what} code {code}, which this library does not know "
            f"(expected 0 or one of {sorted(codes.values())})."
        )

    def condition(self):
        kind = self.byte("condition")
        if kind == 0:
            return "none"
        if kind == 1:
            classes = self.varint("condition")
            _check_limit("classes", classes, 1, MAX_CLASSES)
            return f"labels:{classes}"
        if kind == 2:
            rank = self.varint("condition")
            _check_limit("condition rank", rank, 1, MAX_CONDITION_RANK)
            shape = [self.varint("condition") for _ in range(rank)]
            for size in shape:
                _check_limit("condition dimension", size, 1, MAX_CONDITION_VALUES)
            _check_limit("condition values per image", math.prod(shape), 1, MAX_CONDITION_VALUES)
            return "values:" + "x".join(map(str, shape))
        raise errors.CorruptFileError(
            f"The file's header gives condition kind {kind}; expected 0 (none), 1 (labels) "
            "or 2 (values)."
        )


def _check_limit(name, value, low, high):
    if not low <= value <= high:
        raise errors.HeaderLimitError(
            f"The file's header asks for {name}={value}, outside this format's limits "
            f"[{low}, {high}]; refused before allocating anything (a damaged or forged "
            "header)."
        )


def _check_magic_and_version(data):
    if len(data) < len(MAGIC) or bytes(data[: len(MAGIC)]) != MAGIC:
        raise errors.NotCompressedImagesError(
            f"Expected a file of compressed images, starting with the magic number "
            f"{MAGIC!r}. Received: {bytes(data[:len(MAGIC)])!r} ({len(data)} bytes in all)"
        )
    if len(data) <= len(MAGIC):
        raise errors.TruncatedFileError(
            f"The file ends after {len(data)} bytes, inside its header."
        )
    version = data[len(MAGIC)]
    if version != FORMAT_VERSION:
        raise errors.UnsupportedVersionError(
            f"The file is in format version {version}; this library reads version "
            f"{FORMAT_VERSION} only. "
            + (
                f"Version {version} files were written by pixel_keras before format version "
                f"{FORMAT_VERSION}; decode them with the pixel_keras that wrote them and "
                "compress the images again."
                if version < FORMAT_VERSION
                else "A newer pixel_keras wrote it, or it is damaged."
            )
        )
    if len(data) < _FIELDS_START:
        raise errors.TruncatedFileError(
            f"The file ends after {len(data)} bytes, inside its header."
        )


def header_size(data):
    """Bytes of a file's header (everything before the first chunk)."""
    header, pieces = parse(data)
    return len(data) - sum(len(piece) for piece in pieces)


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
    _check_magic_and_version(data)
    reader = _Reader(data)
    family = reader.name(FAMILY_CODES, "model class")
    compute_dtype = reader.name(DTYPE_CODES, "compute dtype")
    condition = reader.condition()
    config_digest = reader.take(DIGEST_BYTES, "config digest")
    weights_digest = reader.take(DIGEST_BYTES, "weights digest")
    height, width, channels, levels, count, batch_size = (
        reader.varint(what)
        for what in ("height", "width", "channels", "levels", "count", "batch size")
    )
    _check_limit("height", height, 1, MAX_SIDE)
    _check_limit("width", width, 1, MAX_SIDE)
    _check_limit("channels", channels, 1, MAX_CHANNELS)
    _check_limit("levels", levels, 2, MAX_LEVELS)
    _check_limit("count", count, 1, MAX_COUNT)
    _check_limit("batch_size", batch_size, 1, min(MAX_BATCH, count))
    subpixels = count * height * width * channels
    _check_limit("count * height * width * channels", subpixels, 1, MAX_SUBPIXELS)
    chunks = []
    for _ in range(num_chunks(count, batch_size)):
        num_bytes = reader.varint("chunk table")
        (crc,) = _CRC.unpack(reader.take(_CRC.size, "chunk table"))
        chunks.append(Chunk(num_bytes, crc))
    condition_data = reader.take(condition_length(condition, count), "condition")
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
        chunks=tuple(chunks),
    )
    pieces = _chunk_bytes(header, data, reader.offset)
    if condition.startswith("labels:"):
        num_classes = int(condition.partition(":")[2])
        labels = unpack_labels(condition_data, num_classes, count)
        if labels.max() >= num_classes:
            raise errors.CorruptFileError(
                f"The file's condition holds a label {labels.max()}, outside [0, "
                f"{num_classes})."
            )
    return header, pieces


def _chunk_bytes(header, data, offset):
    """Each chunk's bytes, after checking the file's length, its CRC32 and
    each chunk's length."""
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
    (expected_crc,) = _CRC.unpack_from(data, len(MAGIC) + 1)
    if zlib.crc32(data[_FIELDS_START:]) != expected_crc:
        raise errors.CorruptFileError(
            f"The file does not match its CRC32: a byte of it is damaged (in its {offset}-byte "
            f"header or its {needed} bytes of chunks)."
        )
    pieces = []
    for index, chunk in enumerate(header.chunks):
        first, stop = header.chunk_images(index)
        if chunk.num_bytes % 4:
            raise errors.CorruptFileError(
                f"Chunk {index} (images {first} to {stop - 1}) has {chunk.num_bytes} bytes, "
                "not a whole number of 32-bit words."
            )
        pieces.append(bytes(data[offset : offset + chunk.num_bytes]))
        offset += chunk.num_bytes
    return pieces
