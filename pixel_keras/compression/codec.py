"""Lossless compression with a model's likelihood: `compress`, `decompress`.

An image costs about `-log2 p(x)` bits when an entropy coder codes each
sub-pixel with the model's pmf for it. The decoder can compute that pmf only
from the pixels it has decoded, in raster order, so it runs the model's
cached sampling loop; the encoder must compute bit-identical pmfs, so it
runs that SAME loop, on the same batch size, dtype and device. Both build
the loop once per model with one hook in place of the sampler's draw
(`pixel_keras.sampling.choice`): a `tf.numpy_function` that hands each
sub-pixel's pmf to the coding session of the moment,

- encoding: codes the image's true value with the pmf and returns it, so
  the loop goes on conditioned on the true pixels (teacher forcing);
- decoding: decodes the value from the stream with the pmf and returns it.

Nothing else differs between the two sides: the traced loop is the same
concrete function, fed the same zeros and noise.

The coder is `constriction`'s range coder (`stream.queue.RangeEncoder`,
`RangeDecoder`) with `stream.model.Categorical(perfect=False)`: one call
per sub-pixel codes the whole batch's values, each with its own pmf row.
A symbol whose pmf entry is 0 (a tail the float32 softmax underflowed)
still gets constriction's smallest representable probability, which it
guarantees for every symbol of the alphabet; the pmfs are not clamped here.

Images are coded in chunks of at most `batch_size`, as even as they can be
(the last one padded to the full batch with images that are computed but
not coded), one range-coder stream per chunk, with the chunk's byte length
and a CRC32 of its pixels in the header, and one CRC32 of the whole file
(`file_format.py`).
"""

import threading
import weakref

import constriction
import numpy as np
import tensorflow as tf

from pixel_keras.compression import errors
from pixel_keras.compression import file_format
from pixel_keras.compression.fingerprint import fingerprint
from pixel_keras.pixel_values import check_pixel_values
from pixel_keras.sampling import choice

# The default of the most images per chunk (the loop's batch). A chunk
# costs a table entry and the coder's last words (about 10 bytes), and a
# larger batch runs faster per image; 512 holds the digits' 297 test
# images in one chunk (a second one would cost 0.25% of their file). The
# loop's caches grow with the batch: a large model on a small device may
# need a smaller one.
DEFAULT_BATCH_SIZE = 512

# The coder's model family: a categorical whose pmf is given per symbol.
_CATEGORICAL = constriction.stream.model.Categorical(perfect=False)

# One coding session at a time in a process: the hook of a model's loop
# hands its pmfs to the session running now.
_SESSION_LOCK = threading.Lock()

# Each model's coding loop and its hook, built once.
_LOOPS = weakref.WeakKeyDictionary()


class _Hook:
    """The `choose` of a model's coding loop: a host callback that passes
    each sub-pixel's pmf to `self.session` and returns its values."""

    def __init__(self):
        self.session = None

    def __call__(self, probabilities, row, col, channel):
        def callback(pmf, r, c):
            return self.session.choose(pmf, int(r), int(c), channel)

        values = tf.numpy_function(
            callback, [probabilities, row, col], tf.float32, stateful=True, name="code_subpixel"
        )
        values.set_shape(probabilities.shape[:1])
        return values


def _coding_loop(model):
    if model not in _LOOPS:
        hook = _Hook()
        _LOOPS[model] = (choice.build_choosing_loop(model, hook), hook)
    return _LOOPS[model]


class _Session:
    """What one chunk's run of the loop codes: `count` real images of a
    batch of `batch`; checks that the pmfs come in raster order."""

    def __init__(self, image_shape, count, batch):
        self.height, self.width, self.channels = image_shape
        self.count, self.batch = count, batch
        self.next_position = (0, 0, 0)
        self.error = None

    def choose(self, pmf, row, col, channel):
        try:
            position = (row, col, channel)
            if position != self.next_position:
                raise RuntimeError(
                    f"The coding loop asked for sub-pixel {position} where {self.next_position} "
                    "comes next in raster order: its calls are out of order."
                )
            channel_next = channel + 1
            row_next, col_next = row, col
            if channel_next == self.channels:
                channel_next, col_next = 0, col + 1
                if col_next == self.width:
                    col_next, row_next = 0, row + 1
            self.next_position = (row_next, col_next, channel_next)
            if not np.all(np.isfinite(pmf)):
                raise ValueError(
                    f"The model's pmf at pixel ({row}, {col}), channel {channel} is not finite "
                    "(NaN or inf weights?)."
                )
            values = np.zeros([self.batch], np.float32)
            probabilities = self.probabilities(pmf[: self.count])
            values[: self.count] = self.code(probabilities, row, col, channel)
            return values
        except Exception as error:  # noqa: BLE001 - re-raised by `run` with its own type
            self.error = self.error or error
            raise

    def probabilities(self, pmf):
        """The pmf rows as the coder takes them (a seam for the tests)."""
        return np.ascontiguousarray(pmf, dtype=np.float32)

    def finished(self):
        return self.next_position == (self.height, 0, 0)


class _Encoding(_Session):
    def __init__(self, images, count, batch):
        super().__init__(images.shape[1:], count, batch)
        self.images = images.astype(np.int32)
        self.encoder = constriction.stream.queue.RangeEncoder()

    def code(self, probabilities, row, col, channel):
        symbols = self.images[: self.count, row, col, channel]
        self.encoder.encode(symbols, _CATEGORICAL, probabilities)
        return symbols

    def result(self):
        return self.encoder.get_compressed().astype("<u4").tobytes()


class _Decoding(_Session):
    def __init__(self, image_shape, data, count, batch):
        super().__init__(image_shape, count, batch)
        self.decoder = constriction.stream.queue.RangeDecoder(
            np.frombuffer(data, "<u4").astype(np.uint32)
        )

    def code(self, probabilities, row, col, channel):
        return self.decoder.decode(_CATEGORICAL, probabilities)


def _run(model, session, condition):
    """Runs the model's coding loop with `session`; the chosen images."""
    loop, hook = _coding_loop(model)
    with _SESSION_LOCK:
        hook.session = session
        try:
            images = choice.run_choosing_loop(model, loop, session.batch, condition)
        except (tf.errors.OpError, RuntimeError, ValueError) as error:
            if session.error is not None:
                raise session.error from None
            raise error
        finally:
            hook.session = None
    if not session.finished():
        raise RuntimeError(
            f"The coding loop of {type(model).__name__} stopped at sub-pixel "
            f"{session.next_position} of {model.image_shape}."
        )
    return images.numpy()


def _padded(array, batch):
    """`array` with rows of zeros appended up to `batch` rows."""
    missing = batch - array.shape[0]
    if missing == 0:
        return array
    return np.concatenate([array, np.zeros([missing, *array.shape[1:]], array.dtype)])


def _check_batch_size(batch_size):
    if (
        isinstance(batch_size, bool)
        or not isinstance(batch_size, (int, np.integer))
        or not 1 <= batch_size <= file_format.MAX_BATCH
    ):
        raise ValueError(
            f"Expected `batch_size` to be an int in [1, {file_format.MAX_BATCH}]. "
            f"Received: batch_size={batch_size!r}"
        )
    return int(batch_size)


def _condition_bytes(model, condition, count):
    """The checked condition as an array, and as the file stores it."""
    spec = model.condition_spec
    condition = spec.check(spec.resolve(condition), batch=count)
    if condition is None:
        return None, b""
    values = condition.numpy()
    if spec.kind == "labels":
        return values, file_format.pack_labels(values, spec.num_classes)
    return values, values.astype("<f4").tobytes()


def _condition_from_file(header):
    """The file's condition, as `compress` was given it (its labels were
    checked against the number of classes by `file_format.parse`)."""
    condition = file_format.read_condition(header)
    if header.model.condition.startswith("labels:"):
        return condition.astype(np.int32)
    return condition


def _check_progress(progress):
    if progress is not None and not callable(progress):
        raise ValueError(
            "Expected `progress` to be None or a callable `progress(done_images, "
            f"total_images)`. Received: progress={progress!r}"
        )


def _decode_chunk(model, piece, count, batch, condition):
    """The `count` images a chunk's bytes decode to, at `batch`."""
    session = _Decoding(model.image_shape, piece, count, batch)
    images = _run(model, session, condition)
    return images[:count].astype(model.sample_dtype.as_numpy_dtype)


def compress(
    model,
    images,
    condition=None,
    batch_size=DEFAULT_BATCH_SIZE,
    verify=True,
    progress=None,
):
    """Codes images losslessly with `model`'s likelihood.

    Args:
        model: a pixel_keras model whose cached loop takes a value hook
            (every family's does; see `pixel_keras.sampling.choice`). Its
            weights as they are now (the EMA averages, if swapped in) are
            what the file is written with, and what `decompress` needs.
        images: `(count, height, width, channels)` integers in
            `[0, num_levels - 1]`.
        condition: the model's condition for every image (class labels
            `(count,)` or values `(count, *conditional_shape)`), or None.
        batch_size: the most images per chunk. The images are split into
            the fewest chunks of at most `batch_size`, as even as they can
            be (297 images at 256 make chunks of 149 and 148); the chunk
            size is the batch the loop runs (and the decoder will run) at.
            Larger is faster per image, and costs fewer bytes (each chunk
            has a table entry and the coder's last word).
        verify: decode each chunk right after coding it and compare with
            its images (about as long again as the encoding).
        progress: None, or a callable `progress(done_images, total_images)`,
            called after each chunk is coded (and verified) with the number
            of images done so far and the number in all; e.g.
            `lambda done, total: progbar.update(done)` for a
            `keras.utils.Progbar(total)`.

    Returns:
        The file's bytes (`docs/compression.md`).

    Raises:
        ValueError: for bad `images`, `condition`, `batch_size` or
            `progress`, or a model whose loop takes no hook.
        VerificationError: when `verify` decodes other pixels (the loop is
            not deterministic on this machine).

    Example:

    ```python
    data = compression.compress(model, images, batch_size=128)
    assert (compression.decompress(model, data) == images).all()
    ```
    """
    batch_size = _check_batch_size(batch_size)
    _check_progress(progress)
    images = tf.convert_to_tensor(images)
    expected = tuple(model.image_shape)
    if images.shape.rank != 4 or tuple(images.shape[1:]) != expected or images.shape[0] == 0:
        raise ValueError(
            f"Expected `images` of shape (count >= 1, {', '.join(map(str, expected))}). "
            f"Received: images.shape={tuple(images.shape)}"
        )
    images = check_pixel_values(images, model.num_levels, "images").numpy()
    images = images.astype(model.sample_dtype.as_numpy_dtype)
    count = images.shape[0]
    if count > file_format.MAX_COUNT:
        raise ValueError(f"Expected at most {file_format.MAX_COUNT} images. Received: {count}")
    batch_size = file_format.chunk_batch_size(count, batch_size)
    condition, condition_data = _condition_bytes(model, condition, count)
    chunks, pieces = [], []
    for first in range(0, count, batch_size):
        stop = min(first + batch_size, count)
        batch_condition = _batch_condition(condition, first, stop, batch_size)
        session = _Encoding(_padded(images[first:stop], batch_size), stop - first, batch_size)
        chosen = _run(model, session, batch_condition)
        if not np.array_equal(chosen[: stop - first], images[first:stop]):
            raise RuntimeError("The coding loop did not keep the images it was given.")
        piece = session.result()
        if verify:
            _verify_chunk(model, piece, images[first:stop], batch_size, batch_condition, first)
        pieces.append(piece)
        chunks.append(
            file_format.Chunk(
                num_bytes=len(piece), pixels_crc=file_format.pixels_crc(images[first:stop])
            )
        )
        if progress is not None:
            progress(stop, count)
    header = file_format.Header(
        model=fingerprint(model),
        count=count,
        batch_size=batch_size,
        condition_data=condition_data,
        chunks=tuple(chunks),
    )
    data = file_format.pack(header, pieces)
    if verify and file_format.parse(data) != (header, pieces):
        raise errors.VerificationError(
            "The file's header does not read back as it was written."
        )
    return data


def _verify_chunk(model, piece, images, batch_size, condition, first):
    """Decodes a chunk just coded and compares it with its images."""
    where = f"chunk {first // batch_size} (images {first} to {first + len(images) - 1})"
    try:
        decoded = _decode_chunk(model, piece, len(images), batch_size, condition)
    except ValueError as error:
        decoded, failure = None, f"{where} could not be decoded: {error}"
    else:
        failure = f"{where} decoded to other pixels"
    if decoded is None or not np.array_equal(decoded, images):
        raise errors.VerificationError(
            f"The file does not decode to its images on the machine that wrote it: {failure}. "
            "The encoder's and the decoder's pmfs differ here, so the loop is not "
            "deterministic on this device (or the encoder's pmfs were altered)."
        )


def _batch_condition(condition, first, stop, batch_size):
    if condition is None:
        return None
    return tf.constant(_padded(condition[first:stop], batch_size))


def read_header(data):
    """The checked header of a compressed file (`file_format.Header`)."""
    header, _ = file_format.parse(data)
    return header


def decompress(model, data, progress=None):
    """The exact images of a file written by `compress` with this model.

    Every check that needs no decoding comes first: the magic number, the
    version, the header's limits, the file's length and CRC32, the model's
    fingerprint. Then chunk by chunk, at the
    file's batch size, each checked against its pixels' CRC32.

    Args:
        model: the model that wrote the file, with the same weights.
        data: the file's bytes.
        progress: None, or a callable `progress(done_images, total_images)`,
            called after each chunk is decoded and checked.

    Returns:
        `(count, height, width, channels)` images, uint8 (int32 above 256
        levels).

    Raises:
        ValueError: for a `progress` that is not callable.
        NotCompressedImagesError, UnsupportedVersionError,
        TruncatedFileError, CorruptFileError, HeaderLimitError,
        ModelMismatchError: before decoding;
        ChunkMismatchError: after decoding a chunk whose pixels differ from
        those written (the pmfs were not bit-identical: another machine's
        kernels rounded differently).
    """
    _check_progress(progress)
    header, pieces = file_format.parse(data)
    differences = fingerprint(model).differences(header.model)
    if differences:
        raise errors.ModelMismatchError(
            f"The file was written by another model than {type(model).__name__} "
            f"{model.name!r}: " + "; ".join(differences) + "."
        )
    condition = _condition_from_file(header)
    decoded = []
    for index, piece in enumerate(pieces):
        first, stop = header.chunk_images(index)
        batch_condition = _batch_condition(condition, first, stop, header.batch_size)
        try:
            images = _decode_chunk(model, piece, stop - first, header.batch_size, batch_condition)
        except ValueError as error:
            raise errors.ChunkMismatchError(
                f"Chunk {index} (images {first} to {stop - 1}) could not be decoded: {error}. "
                + _ROUNDING
            ) from error
        if file_format.pixels_crc(images) != header.chunks[index].pixels_crc:
            raise errors.ChunkMismatchError(
                f"Chunk {index} (images {first} to {stop - 1}) decoded to pixels whose CRC32 "
                "differs from the one written. " + _ROUNDING
            )
        decoded.append(images)
        if progress is not None:
            progress(stop, header.count)
    return np.concatenate(decoded)


_ROUNDING = (
    "The decoder's pmfs were not bit-identical to the encoder's: most likely the file "
    "was written on another machine (another CPU or GPU, another TensorFlow or oneDNN "
    "build) whose kernels rounded differently. Decode it where it was written, or with "
    "the same hardware and software."
)
