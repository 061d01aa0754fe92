"""Causal attention: the masks, the empty first row, a NumPy reference,
mixed precision, config."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from pixel_keras import layers
from pixel_keras.layers import causal_attention
from tests import helpers


def _numpy_attention(layer, query, context):
    """The layer's output in float64 NumPy, head by head, with the mask as
    loops over raster positions."""
    batch, height, width, _ = query.shape
    positions = height * width
    weights = {w.name: np.asarray(w.numpy(), np.float64) for w in layer.weights}
    q = query.reshape(batch, positions, -1) @ weights["query_kernel"] + weights["query_bias"]
    flat = context.reshape(batch, positions, -1)
    k = flat @ weights["key_kernel"] + weights["key_bias"]
    v = flat @ weights["value_kernel"] + weights["value_bias"]
    out = np.zeros((batch, positions, layer.num_heads * layer.value_dim))
    for h in range(layer.num_heads):
        qh = q[..., h * layer.key_dim : (h + 1) * layer.key_dim]
        kh = k[..., h * layer.key_dim : (h + 1) * layer.key_dim]
        vh = v[..., h * layer.value_dim : (h + 1) * layer.value_dim]
        for n in range(batch):
            for i in range(positions):
                allowed = [j for j in range(positions) if j < i or (j == i and not layer.strict)]
                if not allowed:
                    continue
                logits = np.array([qh[n, i] @ kh[n, j] for j in allowed]) / np.sqrt(layer.key_dim)
                p = np.exp(logits - logits.max())
                p /= p.sum()
                out[n, i, h * layer.value_dim : (h + 1) * layer.value_dim] = p @ vh[n, allowed]
    return out.reshape(batch, height, width, -1)


@pytest.mark.parametrize("strict", [True, False])
def test_equals_a_numpy_reference_on_a_non_square_image(strict):
    layer = layers.CausalAttention(num_heads=2, key_dim=3, value_dim=4, strict=strict, use_bias=True)
    rng = np.random.default_rng(0)
    query = rng.normal(size=(2, 3, 5, 6)).astype("float32")
    context = rng.normal(size=(2, 3, 5, 7)).astype("float32")
    layer(query, context)
    for weight in layer.weights:
        weight.assign(rng.normal(size=weight.shape).astype("float32"))
    actual = layer(query, context).numpy()
    np.testing.assert_allclose(actual, _numpy_attention(layer, query, context), atol=1e-5)


@pytest.mark.parametrize("strict", [True, False])
def test_each_position_reads_the_context_before_it_by_gradients(strict):
    # Non-square (3 x 5): the raster index is row * 5 + col, not row * 3.
    layer = layers.CausalAttention(num_heads=1, key_dim=2, value_dim=3, strict=strict)
    query = tf.random.normal([1, 3, 5, 4])
    context = tf.random.normal([1, 3, 5, 4])
    layer(query, context)
    for weight in layer.weights:
        weight.assign(tf.random.normal(weight.shape))
    maps = helpers.input_gradient_maps(
        lambda c: layer(query, c), context, [(r, c) for r in range(3) for c in range(5)]
    )
    for (r, c), gradient in maps.items():
        position = r * 5 + c
        flat = gradient.reshape(-1)
        last = position if strict else position + 1
        assert np.all(flat[last:] == 0.0), (r, c, np.argwhere(gradient > 0).tolist())
        if last > 1:
            # Every allowed position is read.
            assert np.all(flat[:last] > 0.0), (r, c, flat[:last])


def test_causal_mask_on_a_non_square_image():
    height, width = 2, 3
    positions = height * width
    strict = causal_attention.causal_mask(tf.range(positions), positions, strict=True).numpy()
    loose = causal_attention.causal_mask(tf.range(positions), positions, strict=False).numpy()
    for i in range(positions):
        for j in range(positions):
            assert strict[i, j] == (j < i)
            assert loose[i, j] == (j <= i)
    # The cached sampler's queries: one position, or one row.
    row = causal_attention.causal_mask(width + tf.range(width), positions).numpy()
    np.testing.assert_array_equal(row, strict[width : 2 * width])


@pytest.mark.parametrize("dtype", ["float32", "mixed_bfloat16"])
def test_first_position_is_exactly_zero_with_finite_gradients(dtype):
    layer = layers.CausalAttention(num_heads=2, key_dim=4, value_dim=3, dtype=dtype)
    x = tf.random.normal([2, 4, 4, 5]) * 30.0  # large logits
    with tf.GradientTape() as tape:
        tape.watch(x)
        out = layer(x)
        loss = tf.reduce_sum(tf.cast(out, "float32") ** 2)
    gradient = tape.gradient(loss, [x, *layer.trainable_weights])
    assert np.all(out.numpy()[:, 0, 0] == 0.0)
    assert np.any(out.numpy()[:, 0, 1] != 0.0)
    assert all(np.all(np.isfinite(g.numpy())) for g in gradient)


def test_mixed_precision_computes_the_logits_in_float32():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 4, 4, 8)).astype("float32")
    exact = layers.CausalAttention(num_heads=1, key_dim=8, value_dim=4)
    mixed = layers.CausalAttention(num_heads=1, key_dim=8, value_dim=4, dtype="mixed_bfloat16")
    exact(x)
    mixed(x)
    mixed.set_weights(exact.get_weights())
    out = mixed(x)
    assert out.dtype == "bfloat16"
    # bfloat16 projections, float32 logits and softmax: within bfloat16's
    # rounding of the values.
    np.testing.assert_allclose(
        tf.cast(out, "float32").numpy(), exact(x).numpy(), atol=0.05, rtol=0.05
    )


def test_dropout_only_in_training():
    layer = layers.CausalAttention(num_heads=1, key_dim=2, value_dim=2, dropout=0.5)
    x = tf.random.normal([1, 3, 3, 4])
    np.testing.assert_array_equal(layer(x, training=False), layer(x, training=False))
    assert not np.allclose(layer(x, training=True), layer(x, training=False))


def test_background_planes():
    planes = layers.background_planes(2, 4)
    assert planes.shape == (2, 4, 2) and planes.dtype == np.float32
    np.testing.assert_allclose(planes[:, 0, 0], [-0.5, 0.0])
    np.testing.assert_allclose(planes[0, :, 1], [-0.5, -0.25, 0.0, 0.25])


def test_config_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    query = rng.normal(size=(2, 3, 4, 5)).astype("float32")
    context = rng.normal(size=(2, 3, 4, 6)).astype("float32")

    def prepare(layer):
        for weight in layer.weights:
            weight.assign(rng.normal(size=weight.shape).astype("float32"))

    helpers.check_layer(
        layers.CausalAttention,
        dict(num_heads=2, key_dim=3, value_dim=2, strict=False, dropout=0.25),
        query,
        call_kwargs={"context": context},
        prepare=prepare,
        expected_output_shape=(2, 3, 4, 4),
        expected_num_weights=6,
        tmp_path=tmp_path,
    )


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"num_heads": 0}, "num_heads"),
        ({"key_dim": 1.5}, "key_dim"),
        ({"value_dim": True}, "value_dim"),
        ({"dropout": 1.0}, "dropout"),
    ],
)
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        layers.CausalAttention(**kwargs)


def test_query_and_context_of_different_sizes_are_refused():
    layer = layers.CausalAttention(key_dim=2, value_dim=2)
    with pytest.raises(ValueError, match="same known height and width"):
        layer(keras.ops.ones((1, 3, 4, 2)), keras.ops.ones((1, 4, 3, 2)))
