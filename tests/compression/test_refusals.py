"""A file is decoded only into the exact pixels it holds, or refused by
name: another model, a damaged, truncated or forged file, an unknown
version; and the encoder's pmfs are the decoder's, to the last bit."""

import dataclasses
import zlib

import numpy as np
import pytest

from pixel_keras import compression
from pixel_keras.compression import codec
from pixel_keras.compression import file_format
from pixel_keras.sampling import choice
from tests import helpers


@pytest.fixture(scope="module")
def model():
    helpers.set_random_seed(0)
    return helpers.perturb_weights(helpers.tiny_pixel_cnn(), 0.3)


@pytest.fixture(scope="module")
def images():
    return helpers.digits(limit=3).astype(np.uint8)


@pytest.fixture(scope="module")
def data(model, images):
    return compression.compress(model, images, batch_size=2)


def _with_header_fields(data, height=None, **fields):
    """`data` with header fields replaced and the header's CRC32 recomputed,
    as a forger would."""
    header, pieces = file_format.parse(data)
    if height is not None:
        model = dataclasses.replace(
            header.model, image_shape=(height, *header.model.image_shape[1:])
        )
        header = dataclasses.replace(header, model=model)
    return file_format.pack(dataclasses.replace(header, **fields), pieces)


def test_a_file_of_another_model_is_refused_naming_what_differs(model, data):
    other = helpers.perturb_weights(helpers.tiny_pixel_cnn(), 0.3, seed=1)
    with pytest.raises(compression.ModelMismatchError, match=r"weights \(digest\): file [0-9a-f]+"):
        compression.decompress(other, data)
    wider = helpers.tiny_pixel_cnn(num_filters=8)
    with pytest.raises(compression.ModelMismatchError, match=r"architecture config"):
        compression.decompress(wider, data)
    conditional = helpers.tiny_pixel_cnn(num_classes=10)
    match = r"condition: file none, model labels:10"
    with pytest.raises(compression.ModelMismatchError, match=match):
        compression.decompress(conditional, data)
    pixel_rnn = helpers.tiny_pixel_rnn("row_lstm")
    match = r"model class: file PixelCNN, model PixelRNN"
    with pytest.raises(compression.ModelMismatchError, match=match):
        compression.decompress(pixel_rnn, data)


@pytest.mark.parametrize("where", ["header", "chunk"])
def test_a_flipped_byte_is_refused_before_decoding(model, data, where):
    damaged = bytearray(data)
    # Byte 14 is in the config digest; the last bytes are the last chunk's.
    position = 14 if where == "header" else len(data) - 3
    damaged[position] ^= 0x10
    with pytest.raises(compression.CorruptFileError, match="does not match its CRC32"):
        compression.decompress(model, bytes(damaged))


@pytest.mark.parametrize("keep", [3, 12, "header", "one byte less"])
def test_a_truncated_file_is_refused(model, data, keep):
    if keep == "header":
        keep = file_format.header_size(data)
    elif keep == "one byte less":
        keep = len(data) - 1
    error = compression.NotCompressedImagesError if keep < 4 else compression.TruncatedFileError
    with pytest.raises(error, match="truncated|magic number|ends after"):
        compression.decompress(model, data[:keep])


def test_bytes_after_the_last_chunk_are_refused(model, data):
    with pytest.raises(compression.CorruptFileError, match="after its last chunk"):
        compression.decompress(model, data + b"\0\0\0\0")


@pytest.mark.parametrize(
    "fields, match",
    [
        ({"count": 2**40, "batch_size": 2**16}, r"count=1099511627776, outside"),
        ({"count": 2**70 - 1}, r"count=1180591620717411303423, outside"),
        ({"height": 2**31}, r"height=2147483648, outside"),
        ({"count": 2**31, "batch_size": 2**15}, r"count \* height \* width \* channels="),
        ({"batch_size": 0}, r"batch_size=0, outside"),
    ],
)
def test_a_forged_huge_header_is_refused_before_allocating(model, data, fields, match):
    with pytest.raises(compression.HeaderLimitError, match=match):
        compression.decompress(model, _with_header_fields(data, **fields))


def test_a_header_whose_count_does_not_match_its_chunk_table_is_refused(model, data):
    # 7 images at 2 a chunk need 4 table entries where the file has 2: the
    # chunks' first bytes are read as the table, whose lengths then
    # disagree with the file's.
    forged = _with_header_fields(data, count=7, batch_size=2)
    with pytest.raises(
        (compression.TruncatedFileError, compression.CorruptFileError),
        match="truncated|after its last chunk|does not match its CRC32",
    ):
        compression.decompress(model, forged)


def test_a_label_beyond_the_classes_is_refused(data):
    header, _ = file_format.parse(data)
    # Three classes take 2 bits a label, which can hold a 3.
    labelled = dataclasses.replace(header.model, condition="labels:3")
    forged = _with_header_fields(
        data, model=labelled, condition_data=file_format.pack_labels([0, 3, 1], 3)
    )
    with pytest.raises(compression.CorruptFileError, match=r"label 3, outside \[0, 3\)"):
        compression.read_header(forged)
    # The same header with labels in range reads.
    valid = _with_header_fields(
        data, model=labelled, condition_data=file_format.pack_labels([0, 2, 1], 3)
    )
    np.testing.assert_array_equal(
        file_format.read_condition(compression.read_header(valid)), [0, 2, 1]
    )


def test_names_without_a_code_are_spelled_out_and_unknown_codes_refused(data):
    header, pieces = file_format.parse(data)
    own = dataclasses.replace(header.model, family="MyPixelModel", compute_dtype="float8")
    spelled = file_format.pack(dataclasses.replace(header, model=own), pieces)
    assert b"MyPixelModel" in spelled
    assert file_format.parse(spelled)[0].model == own
    # The class code is the first field (after the magic, version, CRC32).
    assert data[9] == file_format.FAMILY_CODES["PixelCNN"]
    fields = bytearray(data[9:])
    fields[0] = 9
    forged = data[:5] + zlib.crc32(fields).to_bytes(4, "little") + bytes(fields)
    with pytest.raises(compression.CorruptFileError, match="model class code 9"):
        compression.read_header(forged)


def test_an_unknown_version_and_other_data_are_refused(model, data):
    newer = data[:4] + bytes([compression.FORMAT_VERSION + 1]) + data[5:]
    version = compression.FORMAT_VERSION
    match = f"format version {version + 1}; this library reads version {version} only"
    with pytest.raises(compression.UnsupportedVersionError, match=match):
        compression.decompress(model, newer)
    # Files of the earlier versions are refused as such.
    for older in range(1, version):
        old_file = b"PXKC" + bytes([older]) + (80).to_bytes(4, "little") + bytes(84)
        match = f"format version {older}; .*Version {older} files were written by pixel_keras"
        with pytest.raises(compression.UnsupportedVersionError, match=match):
            compression.decompress(model, old_file)
    with pytest.raises(compression.NotCompressedImagesError, match="magic number"):
        compression.decompress(model, b"\x89PNG\r\n\x1a\n" + data[8:])
    # Every refusal is a ValueError.
    assert issubclass(compression.CompressionError, ValueError)


def _one_ulp_up(pmf):
    """Each row's largest probability moved up by one float32 ulp."""
    pmf = np.array(pmf, np.float32)
    rows = np.arange(pmf.shape[0])
    top = pmf.argmax(-1)
    pmf[rows, top] = np.nextafter(pmf[rows, top], np.float32(2.0))
    return pmf


def test_the_encoders_pmfs_one_ulp_off_fail_verification(model, images, monkeypatch):
    monkeypatch.setattr(
        codec._Encoding, "probabilities", lambda self, pmf: _one_ulp_up(pmf), raising=False
    )
    with pytest.raises(compression.VerificationError, match="encoder's and the decoder's pmfs"):
        compression.compress(model, images, batch_size=2)


def test_a_decoder_whose_kernels_round_differently_names_the_chunk(model, data, monkeypatch):
    # What another machine's kernels would do: pmfs one ulp off.
    monkeypatch.setattr(
        codec._Decoding, "probabilities", lambda self, pmf: _one_ulp_up(pmf), raising=False
    )
    with pytest.raises(
        compression.ChunkMismatchError, match=r"Chunk 0 \(images 0 to 1\).*rounded differently"
    ):
        compression.decompress(model, data)


def test_encoder_and_decoder_run_one_traced_loop(model, data):
    loop, hook = codec._LOOPS[model]
    assert loop.chooses_values
    compression.decompress(model, data)
    assert codec._LOOPS[model][0] is loop
    # One trace: chunks of 2 and of 1 image both run at the file's batch.
    assert len(loop._list_all_concrete_functions()) == 1


def test_a_loop_without_the_hook_is_refused(model):
    class NoHook:
        image_shape, num_levels = model.image_shape, model.num_levels

        def build_cached_loop(self, jit_compile=False, teacher_forced_rows=True):
            return lambda *arguments: None

    with pytest.raises(ValueError, match="takes no value hook"):
        choice.build_choosing_loop(NoHook(), lambda *arguments: None)


def test_bad_arguments_are_named(model, images):
    with pytest.raises(ValueError, match="batch_size"):
        compression.compress(model, images, batch_size=0)
    with pytest.raises(ValueError, match=r"images.shape=\(3, 8, 8\)"):
        compression.compress(model, images[..., 0])
    with pytest.raises(ValueError, match="images"):
        compression.compress(model, images + 20)
