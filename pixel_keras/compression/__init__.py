"""Every model as a lossless image codec (docs/compression.md).

`compress(model, images)` writes a file of about `-log2 p(x)` bits per
image, coding each sub-pixel with the pmf the model's cached sampling loop
computes for it; `decompress(model, data)` runs the same loop to decode the
exact pixels. The file's header says what it holds and which model wrote
it; every refusal is a named `ValueError` (`errors.py`).
"""

from pixel_keras.compression.codec import DEFAULT_BATCH_SIZE
from pixel_keras.compression.codec import compress
from pixel_keras.compression.codec import decompress
from pixel_keras.compression.codec import read_header
from pixel_keras.compression.errors import ChunkMismatchError
from pixel_keras.compression.errors import CompressionError
from pixel_keras.compression.errors import CorruptFileError
from pixel_keras.compression.errors import HeaderLimitError
from pixel_keras.compression.errors import ModelMismatchError
from pixel_keras.compression.errors import NotCompressedImagesError
from pixel_keras.compression.errors import TruncatedFileError
from pixel_keras.compression.errors import UnsupportedVersionError
from pixel_keras.compression.errors import VerificationError
from pixel_keras.compression.file_format import FORMAT_VERSION

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "FORMAT_VERSION",
    "ChunkMismatchError",
    "CompressionError",
    "CorruptFileError",
    "HeaderLimitError",
    "ModelMismatchError",
    "NotCompressedImagesError",
    "TruncatedFileError",
    "UnsupportedVersionError",
    "VerificationError",
    "compress",
    "decompress",
    "read_header",
]
