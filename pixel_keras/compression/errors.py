"""The refusals of `decompress` (and `compress`'s verification), by name.

Every one is a ValueError: the file (or the model given for it) is not what
it must be. All but `ChunkMismatchError` and `VerificationError` are raised
from the header and the file's lengths and checksums alone, before any
pixel is decoded.
"""


class CompressionError(ValueError):
    """Base of every refusal of a compressed file."""


class NotCompressedImagesError(CompressionError):
    """The data does not start with the format's magic number."""


class UnsupportedVersionError(CompressionError):
    """The file's format version is not one this library reads."""


class TruncatedFileError(CompressionError):
    """The file ends before the lengths its header gives."""


class CorruptFileError(CompressionError):
    """A checksum of the header or of a chunk's bytes does not match, or
    the file holds bytes after its last chunk."""


class HeaderLimitError(CompressionError):
    """The header asks for sizes beyond the format's limits (refused before
    anything is allocated)."""


class ModelMismatchError(CompressionError):
    """The file was written by another model (architecture, weights, image
    shape, levels, condition or compute dtype differ)."""


class ChunkMismatchError(CompressionError):
    """A chunk decoded to pixels whose CRC32 differs from the one written:
    the decoder's pmfs were not bit-identical to the encoder's."""


class VerificationError(CompressionError):
    """`compress(verify=True)` decoded what it wrote and got other pixels."""
