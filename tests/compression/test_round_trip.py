"""Every family is a lossless codec: a round trip gives the exact pixels,
and a file costs about -log2 p(x) bits (`model.log_prob`)."""

import math

import numpy as np
import pytest

from pixel_keras import compression
from pixel_keras.compression import file_format
from tests import helpers

# A file may exceed the model's code length by 1% plus this (header, chunk
# table, the coder's last word per chunk).
FILE_SLACK_BYTES = 256
# Each chunk's range-coder stream may exceed its images' code length by 1%
# plus about two 32-bit words (constriction's final word, its 24-bit
# quantization of the pmfs).
CHUNK_SLACK_BITS = 64


def _family(name, **overrides):
    helpers.set_random_seed(0)
    if name == "pixel_cnn_pp":
        model = helpers.tiny_pixel_cnn_pp(dropout=0.0, **overrides)
        return helpers.perturb_weights(model, 0.05)
    if name == "pixel_cnn":
        model = helpers.tiny_pixel_cnn(**overrides)
    else:
        model = helpers.tiny_pixel_rnn(name, **overrides)
    return helpers.perturb_weights(model, 0.3)


FAMILIES = ["pixel_cnn_pp", "pixel_cnn", "row_lstm", "diagonal_bilstm"]


def assert_round_trip(model, images, condition=None, batch_size=2):
    """Compresses and decompresses (`compress` verifies too); returns the
    file. Checks the pixels, the dtype and the size against log_prob."""
    data = compression.compress(model, images, condition, batch_size=batch_size)
    decoded = compression.decompress(model, data)
    assert decoded.dtype == model.sample_dtype.as_numpy_dtype
    np.testing.assert_array_equal(decoded, images)
    code_bits = -float(np.sum(model.log_prob(images, condition).numpy())) / math.log(2.0)
    assert 8 * len(data) <= 1.01 * code_bits + 8 * FILE_SLACK_BYTES
    header = compression.read_header(data)
    payload_bits = 8 * sum(chunk.num_bytes for chunk in header.chunks)
    # No coder beats the model's own code length by more than rounding.
    assert 0.99 * code_bits <= payload_bits <= 1.01 * code_bits + CHUNK_SLACK_BITS * len(
        header.chunks
    )
    return data


@pytest.mark.parametrize("family", FAMILIES)
def test_digits_round_trip_with_a_batch_that_does_not_divide_the_count(family):
    model = _family(family)
    images = helpers.digits(limit=5).astype(np.uint8)
    data = assert_round_trip(model, images, batch_size=2)
    header = compression.read_header(data)
    assert (header.count, header.batch_size, len(header.chunks)) == (5, 2, 3)
    assert header.model.image_shape == (8, 8, 1)
    assert header.model.num_levels == 17


@pytest.mark.parametrize(
    "family",
    # PixelCNN++'s (about 19 s: its per-pixel network and three channels'
    # pmfs compiled by XLA) with -m slow; its grey round trip runs by default.
    [pytest.param("pixel_cnn_pp", marks=pytest.mark.slow), "pixel_cnn"],
)
def test_colour_images_with_class_labels(family):
    # R -> G -> B: each channel's pmf given the pixel's earlier channels.
    model = _family(family, image_shape=(4, 6, 3), num_levels=8, num_classes=3)
    images = np.random.default_rng(1).integers(0, 8, [3, 4, 6, 3]).astype(np.uint8)
    # A smooth image too, where the channels agree and conditioning pays.
    images[0] = np.arange(24).reshape(4, 6, 1) % 8
    labels = np.array([2, 0, 1])
    data = assert_round_trip(model, images, labels, batch_size=2)
    header = compression.read_header(data)
    assert header.model.condition == "labels:3"
    # Two bits a label, packed: 6 bits in one byte.
    assert header.condition_data == bytes([0b01_00_10])
    # The labels travel in the file.
    other = np.array([0, 0, 0])
    assert not np.array_equal(
        compression.compress(model, images, other, verify=False), data
    )


@pytest.mark.parametrize("family", ["row_lstm", "diagonal_bilstm"])
def test_pixel_rnn_with_class_labels_and_a_single_image(family):
    model = _family(family, num_classes=10)
    images, labels = helpers.digits(limit=1, labels=True)
    data = assert_round_trip(model, images.astype(np.uint8), labels)
    assert compression.read_header(data).batch_size == 1


@pytest.mark.parametrize(
    "family",
    # PixelCNN++'s loop traces in about 10 s: its 2 levels with -m slow.
    ["pixel_cnn", pytest.param("pixel_cnn_pp", marks=pytest.mark.slow)],
)
def test_two_level_images(family):
    model = _family(family, image_shape=(4, 6, 1), num_levels=2)
    images = (helpers.digits(limit=3)[:, :4, :6] > 8).astype(np.uint8)
    assert_round_trip(model, images, batch_size=3)


def test_65536_levels_decode_to_int32():
    model = _family("pixel_cnn", image_shape=(3, 2, 1), num_levels=2**16)
    images = np.random.default_rng(2).integers(0, 2**16, [2, 3, 2, 1]).astype(np.int32)
    images[0, 0, 0, 0], images[1, -1, -1, 0] = 0, 2**16 - 1
    data = assert_round_trip(model, images, batch_size=2)
    assert compression.read_header(data).model.num_levels == 2**16


def test_a_single_image_is_one_chunk_of_one():
    model = _family("pixel_cnn")
    images = helpers.digits(limit=1).astype(np.uint8)
    data = assert_round_trip(model, images, batch_size=32)
    header = compression.read_header(data)
    assert (header.count, header.batch_size, len(header.chunks)) == (1, 1, 1)


def test_the_header_says_what_it_holds():
    model = _family("pixel_cnn")
    images = helpers.digits(limit=3).astype(np.uint8)
    data = compression.compress(model, images, batch_size=2)
    assert data[:4] == file_format.MAGIC
    assert data[4] == compression.FORMAT_VERSION
    header = compression.read_header(data)
    assert header.model.family == "PixelCNN"
    assert header.model.compute_dtype == "float32"
    assert header.model.condition == "none"
    assert header.coder == file_format.CODER_CONSTRICTION_RANGE
    for index, chunk in enumerate(header.chunks):
        first, stop = header.chunk_images(index)
        assert chunk.pixels_crc == file_format.pixels_crc(images[first:stop])


def test_progress_is_called_once_per_chunk_with_the_images_done():
    model = _family("pixel_cnn")
    images = helpers.digits(limit=5).astype(np.uint8)
    calls = []
    data = compression.compress(
        model, images, batch_size=2, progress=lambda done, total: calls.append((done, total))
    )
    assert calls == [(2, 5), (4, 5), (5, 5)]
    calls.clear()
    compression.compress(
        model, images, batch_size=4, verify=False, progress=lambda *done: calls.append(done)
    )
    # 5 images at most 4 a chunk: two chunks of 3 and 2.
    assert calls == [(3, 5), (5, 5)]
    calls.clear()
    decoded = compression.decompress(model, data, progress=lambda *done: calls.append(done))
    np.testing.assert_array_equal(decoded, images)
    assert calls == [(2, 5), (4, 5), (5, 5)]
    with pytest.raises(ValueError, match=r"`progress`.*Received: progress=3"):
        compression.compress(model, images, progress=3)
    with pytest.raises(ValueError, match=r"`progress`.*Received: progress='bar'"):
        compression.decompress(model, data, progress="bar")


@pytest.mark.parametrize(
    "count, batch_size, expected",
    [(297, 32, 30), (297, 256, 149), (297, 512, 297), (5, 2, 2), (7, 4, 4), (1, 32, 1)],
)
def test_chunks_are_as_even_as_they_can_be(count, batch_size, expected):
    chunk = file_format.chunk_batch_size(count, batch_size)
    assert chunk == expected
    assert file_format.num_chunks(count, chunk) == file_format.num_chunks(count, batch_size)


def test_varints_and_packed_labels_round_trip():
    for value in [0, 1, 127, 128, 300, 2**32 - 1, 2**35, 2**64 - 1]:
        encoded = file_format.varint(value)
        assert len(encoded) == max(1, -(-value.bit_length() // 7))
        assert file_format.read_varint(b"\x01" + encoded + b"\xff", 1) == (value, 1 + len(encoded))
    # The data ends inside a varint, or it runs on past 10 bytes.
    assert file_format.read_varint(b"\x80\x80", 0) == (None, 0)
    assert file_format.read_varint(b"\xff" * 11, 0) == (None, 0)
    rng = np.random.default_rng(0)
    for num_classes, width in [(1, 0), (2, 1), (10, 4), (256, 8), (257, 9), (65536, 16)]:
        assert file_format.label_bits(num_classes) == width
        labels = rng.integers(0, num_classes, 37)
        labels[0] = num_classes - 1
        packed = file_format.pack_labels(labels, num_classes)
        assert len(packed) == -(-37 * width // 8)
        np.testing.assert_array_equal(file_format.unpack_labels(packed, num_classes, 37), labels)


def test_the_header_costs_what_the_format_says():
    model = _family("pixel_cnn")
    images = helpers.digits(limit=3).astype(np.uint8)
    data = compression.compress(model, images, batch_size=2)
    header = compression.read_header(data)
    table = sum(len(file_format.varint(chunk.num_bytes)) + 4 for chunk in header.chunks)
    # magic, version, the file's CRC32; class, dtype, condition; two 4-byte
    # digests; 8, 8, 1, 17, count 3, batch 2 (a byte each); the table.
    assert file_format.header_size(data) == 9 + 3 + 8 + 6 + table
    assert len(data) == file_format.header_size(data) + sum(c.num_bytes for c in header.chunks)
