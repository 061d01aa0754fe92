"""How a categorical model sees its input values: scaled, one-hot or embedded."""

import keras
from keras import ops

ENCODINGS = ("scaled", "one_hot", "embedding")


@keras.saving.register_keras_serializable(package="pixel_keras")
class PixelEncoding(keras.layers.Layer):
    """Maps integer pixel values to the features a model's first layer reads.

    Each of the C channels of a pixel becomes a block of D features, blocks in
    channel order, so that the channel groups of `MaskedConv2D` (contiguous
    blocks) line up with the image's channels:

    - `"scaled"` (D = 1): `2 v / (num_levels - 1) - 1`, in `[-1, 1]`, for
      intensities, whose order means something;
    - `"one_hot"` (D = `num_levels`): for unordered values such as the codes
      of a discrete latent map, with few levels;
    - `"embedding"` (D = `embedding_dim`): a learned vector per value and
      channel, for unordered values with many levels.

    Args:
        num_levels: int, values are integers in `[0, num_levels - 1]`.
        encoding: one of `"scaled"`, `"one_hot"`, `"embedding"`.
        embedding_dim: int, features per channel for `"embedding"`.
        **kwargs: base `keras.layers.Layer` arguments.

    Input shape:
        `(..., channels)` integer-valued (any dtype).

    Output shape:
        `(..., channels * D)` float.

    Example:

    >>> layer = PixelEncoding(4, "one_hot")
    >>> layer(keras.ops.convert_to_tensor([[1.0, 3.0]])).shape
    (1, 8)
    """

    def __init__(self, num_levels, encoding="scaled", embedding_dim=16, **kwargs):
        super().__init__(**kwargs)
        if encoding not in ENCODINGS:
            raise ValueError(
                f"Expected `encoding` to be one of {ENCODINGS}. Received: "
                f"encoding={encoding!r}"
            )
        if isinstance(embedding_dim, bool) or not (
            isinstance(embedding_dim, int) and embedding_dim >= 1
        ):
            raise ValueError(
                "Expected a positive int `embedding_dim`. Received: "
                f"embedding_dim={embedding_dim!r}"
            )
        self.num_levels = num_levels
        self.encoding = encoding
        self.embedding_dim = embedding_dim

    @property
    def input_dtype(self):
        """float32 under every policy: the inputs are pixel values, not
        features, and bfloat16 (a mixed policy's compute dtype) rounds
        integers above 256."""
        return "float32"

    @property
    def features_per_channel(self):
        return {"scaled": 1, "one_hot": self.num_levels, "embedding": self.embedding_dim}[
            self.encoding
        ]

    def build(self, input_shape):
        if self.encoding == "embedding":
            channels = input_shape[-1]
            # One table per channel: the same value in R and in G need not
            # mean the same. Unit-scale entries, like the other encodings'
            # features (Keras' Embedding default of +-0.05 would start the
            # first layer's inputs 20 times smaller).
            self.embeddings = self.add_weight(
                name="embeddings",
                shape=(channels, self.num_levels, self.embedding_dim),
                initializer=keras.initializers.RandomNormal(stddev=1.0),
            )

    def call(self, values):
        values = ops.convert_to_tensor(values)
        if self.encoding == "scaled":
            # Scaled in float32, then cast: bfloat16 holds integers only up
            # to 256 exactly.
            scaled = ops.cast(values, "float32") * (2.0 / (self.num_levels - 1)) - 1.0
            return ops.cast(scaled, self.compute_dtype)
        indices = ops.cast(values, "int32")
        leading = ops.shape(values)[:-1]
        channels = values.shape[-1]
        if self.encoding == "one_hot":
            features = ops.one_hot(indices, self.num_levels, dtype=self.compute_dtype)
        else:
            # Flat index c * L + v into the channels' stacked tables.
            offsets = ops.arange(channels, dtype="int32") * self.num_levels
            table = ops.reshape(self.embeddings, (-1, self.embedding_dim))
            features = ops.take(table, indices + offsets, axis=0)
        return ops.reshape(
            features, (*leading, channels * self.features_per_channel)
        )

    def compute_output_shape(self, input_shape):
        channels = input_shape[-1]
        return (*input_shape[:-1], channels * self.features_per_channel)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_levels": self.num_levels,
                "encoding": self.encoding,
                "embedding_dim": self.embedding_dim,
            }
        )
        return config
