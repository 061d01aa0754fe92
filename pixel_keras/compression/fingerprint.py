"""What identifies the model a file was written with.

A file decodes only with the model that wrote it: the same architecture
(the config, less the name Keras may number differently in another
process), the same weights (the values the model holds when called: the
EMA averages where training swapped them in, as `fit` leaves a model
compiled with the recipe's optimizer), the same compute dtype.
"""

import dataclasses
import hashlib
import json

import numpy as np

# Config entries that name an instance rather than describe the network.
_INSTANCE_KEYS = ("name", "trainable")

# Bytes of each SHA-256 digest kept in a file: 32 bits. They tell models
# apart by accident before any decoding (another model's weights match with
# probability 2**-32), not against someone who forges a model on purpose;
# a model they let through by chance still decodes no wrong image
# unnoticed, since each chunk's pixels are checked against their CRC32
# (another 2**-32). On an 8x8 digit's 14 bytes, 8 more header bytes would
# cost 0.2% of the 297 test images' file.
DIGEST_BYTES = 4


@dataclasses.dataclass(frozen=True)
class ModelFingerprint:
    """The header's description of a model.

    Attributes:
        family: the model's class name (`"PixelCNN"`, ...).
        image_shape: `(height, width, channels)`.
        num_levels: values per sub-pixel.
        compute_dtype: the dtype the model's layers compute in.
        condition: `"none"`, `"labels:<num_classes>"` or
            `"values:<d1>x<d2>..."`.
        config_digest: the first 4 bytes of the SHA-256 of the config.
        weights_digest: the first 4 bytes of the SHA-256 of the weights.
    """

    family: str
    image_shape: tuple
    num_levels: int
    compute_dtype: str
    condition: str
    config_digest: bytes
    weights_digest: bytes

    def differences(self, other):
        """What differs from `other` (the file's), in words; empty if none."""
        differences = []
        for field, what in (
            ("family", "model class"),
            ("image_shape", "image shape"),
            ("num_levels", "levels"),
            ("condition", "condition"),
            ("compute_dtype", "compute dtype"),
            ("config_digest", "architecture config (digest)"),
            ("weights_digest", "weights (digest)"),
        ):
            mine, theirs = getattr(self, field), getattr(other, field)
            if mine != theirs:
                if isinstance(mine, bytes):
                    mine, theirs = mine.hex(), theirs.hex()
                differences.append(f"{what}: file {theirs}, model {mine}")
        return differences


def condition_description(spec):
    """The header's words for a `ConditionSpec`."""
    if spec.kind == "labels":
        return f"labels:{spec.num_classes}"
    if spec.kind == "values":
        return "values:" + "x".join(map(str, spec.shape))
    return "none"


def config_digest(model):
    """SHA-256 (its first 4 bytes) of the model's config, without instance names."""
    config = {k: v for k, v in model.get_config().items() if k not in _INSTANCE_KEYS}
    described = {"class": type(model).__name__, "config": config}
    text = json.dumps(described, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).digest()[:DIGEST_BYTES]


def weights_digest(model):
    """SHA-256 (its first 4 bytes) of every weight the model holds, in order: each
    one's dtype, shape and bytes (little-endian)."""
    digest = hashlib.sha256()
    for weight in model.weights:
        value = np.asarray(weight.numpy())
        value = value.astype(value.dtype.newbyteorder("<"), copy=False)
        digest.update(f"{value.dtype.str}{value.shape}".encode())
        digest.update(np.ascontiguousarray(value).tobytes())
    return digest.digest()[:DIGEST_BYTES]


def fingerprint(model):
    """The `ModelFingerprint` of `model` as it is now."""
    return ModelFingerprint(
        family=type(model).__name__,
        image_shape=tuple(int(d) for d in model.image_shape),
        num_levels=int(model.num_levels),
        compute_dtype=str(model.dtype_policy.compute_dtype),
        condition=condition_description(model.condition_spec),
        config_digest=config_digest(model),
        weights_digest=weights_digest(model),
    )
