"""Causal self-attention over the raster order of an image (PixelSNAIL).

Position `i = row * width + col` of a `(batch, height, width, channels)` map
reads the positions `j < i` (a *strict* mask: the keys include the raw pixel
`x_j`, so position `i` must not read its own pixel) or `j <= i` (a
non-strict mask, for keys that see only features already causal). The first
position has no allowed key under the strict mask; its output is exactly
zero: the masked logits are replaced by a large negative number before the
softmax, and the softmax is multiplied by the mask after it, so an empty row
gives zero weights (not the uniform weights of a softmax over equal logits,
and not the NaN of a softmax over `-inf`).

Why not `keras.layers.MultiHeadAttention`: its only built-in mask,
`use_causal_mask`, is non-strict (`j <= i`); a strict one must be passed as
an `attention_mask` of shape `(batch, H*W, H*W)`, one copy per image.
Without dropout (at inference, and so in sampling) it routes through
`ops.dot_product_attention`, whose softmax over a row with no allowed key
gives that row uniform weights over every position, the later ones included:
the first pixel would read the whole image. Its scores and softmax are in the
layer's compute dtype (bfloat16 under a mixed policy), where the logits here
are float32. And the cached sampler queries one new position against a key
and value cache that grows by one position per step: it needs the
projections as plain kernels and the attention as a function
(`attend`) that it calls with the same arithmetic as the layer. The
projections here are three einsums whose operands share no batch label, and
the attention two einsums whose batch labels (`b`, `h`) are on both
operands with the same sizes: no batched matmul broadcasts (BUILD.md, "A
TensorFlow bug that the code must route around").
"""

import math

import keras
import numpy as np
from keras import ops

# What a masked logit becomes before the softmax: finite, so that a row with
# no allowed key gives finite weights, which the mask then zeroes.
_MASKED_LOGIT = -1e9


def background_planes(height, width):
    """PixelSNAIL's two position planes, `((i - H/2) / H, (j - W/2) / W)`.

    Args:
        height: int, the image's height `H`.
        width: int, the image's width `W`.

    Returns:
        float32 NumPy array `(height, width, 2)`: the row plane, then the
        column plane, each in `[-1/2, 1/2)`.
    """
    rows = (np.arange(height, dtype=np.float32) - height / 2) / height
    cols = (np.arange(width, dtype=np.float32) - width / 2) / width
    return np.stack(np.broadcast_arrays(rows[:, None], cols[None, :]), axis=-1).astype(
        np.float32
    )


def causal_mask(query_positions, num_keys, strict=True):
    """Which keys each query may read, in raster order.

    Args:
        query_positions: int tensor `(queries,)`, the raster index of each
            query (`row * width + col`).
        num_keys: int, the number of key positions (`height * width`).
        strict: bool; True: query `i` reads keys `j < i`; False: `j <= i`.

    Returns:
        bool tensor `(queries, num_keys)`.
    """
    keys = ops.arange(num_keys, dtype="int32")[None, :]
    queries = ops.cast(query_positions, "int32")[:, None]
    return ops.less(keys, queries) if strict else ops.less_equal(keys, queries)


def attend(queries, keys, values, mask, num_heads, dropout=None):
    """Masked scaled dot-product attention, in float32.

    Args:
        queries: `(batch, queries, num_heads * key_dim)`.
        keys: `(batch, positions, num_heads * key_dim)`.
        values: `(batch, positions, num_heads * value_dim)`.
        mask: bool `(queries, positions)`, True where a query may read a key.
        num_heads: int.
        dropout: optional callable applied to the attention weights.

    Returns:
        float32 `(batch, queries, num_heads * value_dim)`: per head, the
        softmax over the allowed keys of `q . k / sqrt(key_dim)` times the
        values; exactly zero for a query with no allowed key.
    """
    batch = ops.shape(queries)[0]
    key_dim = queries.shape[-1] // num_heads
    value_dim = values.shape[-1] // num_heads

    def heads(x, depth):
        return ops.reshape(ops.cast(x, "float32"), (batch, -1, num_heads, depth))

    queries = heads(queries, key_dim) * (1.0 / math.sqrt(key_dim))
    logits = ops.einsum("bqhd,bkhd->bhqk", queries, heads(keys, key_dim))
    logits = ops.where(mask, logits, _MASKED_LOGIT)
    weights = ops.softmax(logits, axis=-1) * ops.cast(mask, "float32")
    if dropout is not None:
        weights = dropout(weights)
    outputs = ops.einsum("bhqk,bkhd->bqhd", weights, heads(values, value_dim))
    return ops.reshape(outputs, (batch, -1, num_heads * value_dim))


@keras.saving.register_keras_serializable(package="pixel_keras")
class CausalAttention(keras.layers.Layer):
    """Multi-head causal attention over the raster order of an image.

    Queries are a projection of `query` at each position, keys and values
    projections of `context` (`query` itself when not given); position `i`
    reads the positions before it (`strict=True`) or up to it. The output is
    the heads' outputs side by side, `num_heads * value_dim` channels (no
    output projection: PixelSNAIL merges it through a gated residual block,
    whose skip projection is one).

    Args:
        num_heads: int >= 1.
        key_dim: int >= 1, the size of each head's queries and keys; the
            logits are scaled by `1 / sqrt(key_dim)`.
        value_dim: int >= 1, the size of each head's values.
        strict: bool. True when the keys or values include the raw pixels
            (position `i` reads `j < i`; the first position's output is zero);
            False when they see only causal features (`j <= i`).
        dropout: float in `[0, 1)`, dropout of the attention weights.
        use_bias: bool, whether the projections have biases.
        kernel_initializer: initializer of the projections.
        **kwargs: base `keras.layers.Layer` arguments (name, dtype, ...).

    Call arguments:
        query: `(batch, height, width, query_channels)`.
        context: optional `(batch, height, width, context_channels)`, what the
            keys and values are projected from; `query` when None.
        training: Python bool, whether dropout is active.

    Output shape:
        `(batch, height, width, num_heads * value_dim)`, in the layer's
        compute dtype; the logits and the softmax are float32.

    Example:

    >>> layer = CausalAttention(num_heads=2, key_dim=4, value_dim=3)
    >>> x = keras.ops.ones((1, 3, 5, 6))
    >>> layer(x).shape
    (1, 3, 5, 6)
    """

    def __init__(
        self,
        num_heads=1,
        key_dim=16,
        value_dim=128,
        strict=True,
        dropout=0.0,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        for name, value in (("num_heads", num_heads), ("key_dim", key_dim), ("value_dim", value_dim)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"Expected `{name}` to be an int >= 1. Received: {name}={value!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"Expected `dropout` in [0, 1). Received: dropout={dropout}")
        self.num_heads = num_heads
        self.key_dim = key_dim
        self.value_dim = value_dim
        self.strict = bool(strict)
        self.dropout = dropout
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        # On the float32 weights, whatever the policy.
        self._dropout_layer = keras.layers.Dropout(dropout, dtype="float32")

    def _projection(self, name, channels, units):
        kernel = self.add_weight(
            name=f"{name}_kernel",
            shape=(channels, units),
            initializer=keras.initializers.get(
                keras.initializers.serialize(self.kernel_initializer)
            ),
        )
        bias = None
        if self.use_bias:
            bias = self.add_weight(name=f"{name}_bias", shape=(units,), initializer="zeros")
        return kernel, bias

    def build(self, query_shape, context_shape=None):
        context_shape = query_shape if context_shape is None else context_shape
        for name, shape in (("query", query_shape), ("context", context_shape)):
            if len(shape) != 4 or shape[-1] is None:
                raise ValueError(
                    f"Expected `{name}` of shape (batch, height, width, channels) with "
                    f"known channels. Received: {name} shape={tuple(shape)}"
                )
        keys = self.num_heads * self.key_dim
        self.query_kernel, self.query_bias = self._projection("query", query_shape[-1], keys)
        self.key_kernel, self.key_bias = self._projection("key", context_shape[-1], keys)
        self.value_kernel, self.value_bias = self._projection(
            "value", context_shape[-1], self.num_heads * self.value_dim
        )

    @staticmethod
    def _project(x, kernel, bias):
        # A 2-D matmul on the flattened positions: Keras' einsum of
        # "bsc,cd->bsd" is a batched matmul that broadcasts the kernel.
        units = kernel.shape[-1]
        y = ops.matmul(ops.reshape(x, (-1, kernel.shape[0])), ops.cast(kernel, x.dtype))
        if bias is not None:
            y = y + ops.cast(bias, x.dtype)
        return ops.reshape(y, (ops.shape(x)[0], -1, units))

    def project_queries(self, query):
        """The queries of `(batch, positions, query_channels)` features."""
        return self._project(query, self.query_kernel, self.query_bias)

    def project_keys_and_values(self, context):
        """`(keys, values)` of `(batch, positions, context_channels)` features."""
        return (
            self._project(context, self.key_kernel, self.key_bias),
            self._project(context, self.value_kernel, self.value_bias),
        )

    def call(self, query, context=None, training=None):
        context = query if context is None else context
        _, height, width, _ = query.shape
        if height is None or width is None or tuple(context.shape[1:3]) != (height, width):
            raise ValueError(
                "Expected `query` and `context` of the same known height and width. "
                f"Received: query shape={tuple(query.shape)}, "
                f"context shape={tuple(context.shape)}"
            )
        positions = height * width
        batch = ops.shape(query)[0]
        queries = self.project_queries(ops.reshape(query, (batch, positions, query.shape[-1])))
        keys, values = self.project_keys_and_values(
            ops.reshape(context, (batch, positions, context.shape[-1]))
        )
        mask = causal_mask(ops.arange(positions), positions, self.strict)

        def dropout(weights):
            return self._dropout_layer(weights, training=training)

        outputs = attend(queries, keys, values, mask, self.num_heads, dropout)
        outputs = ops.cast(outputs, self.compute_dtype)
        return ops.reshape(outputs, (batch, height, width, self.num_heads * self.value_dim))

    def compute_output_shape(self, query_shape, context_shape=None):
        return (*query_shape[:3], self.num_heads * self.value_dim)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_heads": self.num_heads,
                "key_dim": self.key_dim,
                "value_dim": self.value_dim,
                "strict": self.strict,
                "dropout": self.dropout,
                "use_bias": self.use_bias,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            }
        )
        return config
