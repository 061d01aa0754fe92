"""The Gated PixelCNN's gated layer: the paper's wiring against a NumPy
re-computation from its weights, causality of both stacks, conditioning,
configs."""

import numpy as np
import pytest
import scipy.special

from pixel_keras import layers
from tests import helpers

HEIGHT, WIDTH, CHANNELS = 4, 6, 3


def _conv(x, kernel, padding):
    """VALID cross-correlation of `x` zero-padded by `((top, bottom), (left,
    right))`, in float64."""
    (top, bottom), (left, right) = padding
    padded = np.pad(x, [(0, 0), (top, bottom), (left, right), (0, 0)])
    kh, kw = kernel.shape[:2]
    height = padded.shape[1] - kh + 1
    width = padded.shape[2] - kw + 1
    out = np.zeros((x.shape[0], height, width, kernel.shape[-1]))
    for i in range(kh):
        for j in range(kw):
            window = padded[:, i : i + height, j : j + width]
            out += np.einsum("bhwk,ko->bhwo", window, kernel[i, j])
    return out


def _gate(x):
    a, b = np.split(x, 2, axis=-1)
    return np.tanh(a) * scipy.special.expit(b)


def w(layer):
    """A layer's weights in float64."""
    return [np.asarray(v, np.float64) for v in layer.weights]


def _float32(x):
    return None if x is None else x.astype("float32")


def _numpy_block(block, vertical, horizontal, condition, condition_map, link_before_gate=True):
    """The block from its weights. `link_before_gate=False` is the wiring of
    the ports that link the vertical stack's gated output instead."""
    size = block.kernel_size
    kernel, bias = w(block.vertical_conv)
    if block.mask_type == "A":
        vertical = np.pad(vertical[:, :-1], [(0, 0), (1, 0), (0, 0), (0, 0)])
    v_pre = _conv(vertical, kernel, ((size // 2, 0), (size // 2, size // 2))) + bias
    kernel, bias = w(block.horizontal_conv)
    kernel = kernel * np.asarray(block.horizontal_conv.mask)
    h_pre = _conv(horizontal, kernel, ((0, 0), (size // 2, 0))) + bias
    if condition is not None:
        v_pre += (condition @ w(block.vertical_condition)[0])[:, None, None]
        h_pre += (condition @ w(block.horizontal_condition)[0])[:, None, None]
    if condition_map is not None:
        rows, cols = HEIGHT // condition_map.shape[1], WIDTH // condition_map.shape[2]
        upsampled = condition_map.repeat(rows, 1).repeat(cols, 2)
        v_pre += upsampled @ w(block.vertical_condition_map)[0][0, 0]
        h_pre += upsampled @ w(block.horizontal_condition_map)[0][0, 0]
    kernel, bias = w(block.link)
    if link_before_gate:
        h_pre += v_pre @ kernel[0, 0] + bias
    else:
        # Such a port's link reads p gated maps: the first p rows here.
        h_pre += _gate(v_pre) @ kernel[0, 0, : block.filters] + bias
    gated = _gate(h_pre)
    kernel, bias = w(block.residual_conv)
    out = gated @ (kernel * np.asarray(block.residual_conv.mask))[0, 0] + bias
    if block.residual:
        out += horizontal
    kernel, bias = w(block.skip_conv)
    skip = gated @ (kernel * np.asarray(block.skip_conv.mask))[0, 0] + bias
    return _gate(v_pre), out, skip


@pytest.mark.parametrize(
    "mask_type, size, condition_features, map_shape",
    [
        ("A", 3, None, None),
        ("B", 5, 4, None),
        ("B", 3, None, (2, 3, 2)),  # a smaller map, upsampled
        ("A", 5, 2, (HEIGHT, WIDTH, 1)),  # both, the map at the image's size
    ],
)
def test_block_is_the_papers_wiring(mask_type, size, condition_features, map_shape):
    generator = np.random.default_rng(0)
    filters = 6
    block = layers.GatedPixelCNNBlock(
        filters, size, mask_type=mask_type, num_channel_groups=CHANNELS,
        residual=mask_type == "B", skip_filters=9,
    )
    width_in = CHANNELS if mask_type == "A" else filters
    vertical = generator.normal(size=(2, HEIGHT, WIDTH, width_in))
    horizontal = generator.normal(size=(2, HEIGHT, WIDTH, width_in))
    condition = None
    if condition_features is not None:
        condition = generator.normal(size=(2, condition_features))
    condition_map = None if map_shape is None else generator.normal(size=(2, *map_shape))

    def call():
        return block(
            (_float32(vertical), _float32(horizontal)),
            condition=_float32(condition),
            condition_map=_float32(condition_map),
        )

    call()
    helpers.perturb_weights(block, 0.3)
    actual = [np.asarray(x) for x in call()]
    expected = _numpy_block(block, vertical, horizontal, condition, condition_map)
    for name, a, e in zip(("vertical", "horizontal", "skip"), actual, expected):
        np.testing.assert_allclose(a, e, atol=1e-5, err_msg=name)
    # The test tells the wirings apart: the link after the vertical gate
    # gives other horizontal outputs.
    after_gate = _numpy_block(block, vertical, horizontal, condition, condition_map, False)
    assert np.abs(after_gate[1] - actual[1]).max() > 1e-2


def test_stacks_read_rows_above_and_the_row_up_to_the_pixel():
    # Two layers, as in a model: the vertical output reads only rows strictly
    # above; the horizontal output reads rows above and the row up to the
    # pixel, the pixel itself in strictly earlier channel groups only.
    first = layers.GatedPixelCNNBlock(6, 3, mask_type="A", num_channel_groups=3, residual=False)
    second = layers.GatedPixelCNNBlock(6, 3, num_channel_groups=3)

    def stacks(x):
        return second(first((x, x))[:2])

    x = np.random.default_rng(1).normal(size=(HEIGHT, WIDTH, 3))
    vertical = helpers.jacobian(lambda x: stacks(x)[0], x) > 0
    horizontal = helpers.jacobian(lambda x: stacks(x)[1], x) > 0
    for r in range(HEIGHT):
        for c in range(WIDTH):
            assert not vertical[r, c, :, r:].any(), (r, c)
            assert not horizontal[r, c, :, r, c + 1 :].any(), (r, c)
            assert not horizontal[r, c, :, r + 1 :].any(), (r, c)
            # Output group g (2 channels each) reads groups < g of the pixel.
            for g in range(3):
                seen = horizontal[r, c, 2 * g : 2 * g + 2, r, c].any(0)
                np.testing.assert_array_equal(seen, np.arange(3) < g)
            if r > 0:
                assert vertical[r, c, :, r - 1, c].any()
                assert horizontal[r, c, :, r - 1, c].any()
            if c > 0:
                assert horizontal[r, c, :, r, c - 1].any()


def test_conditions_change_both_stacks():
    generator = np.random.default_rng(2)
    block = layers.GatedPixelCNNBlock(4, 3, mask_type="A", residual=False)
    x = generator.normal(size=(2, HEIGHT, WIDTH, 1)).astype("float32")
    condition = generator.normal(size=(2, 3)).astype("float32")
    condition_map = generator.normal(size=(2, 2, 3, 2)).astype("float32")
    base = block((x, x), condition=condition, condition_map=condition_map)
    other_vector = block((x, x), condition=condition + 1.0, condition_map=condition_map)
    other_map = block((x, x), condition=condition, condition_map=condition_map + 1.0)
    for other in (other_vector, other_map):
        for a, b in zip(base, other):
            assert np.abs(np.asarray(a) - np.asarray(b)).max() > 1e-3


def test_a_map_that_does_not_divide_the_image_is_refused():
    block = layers.GatedPixelCNNBlock(4, 3, mask_type="A", residual=False)
    x = np.zeros((1, HEIGHT, WIDTH, 1), "float32")
    with pytest.raises(ValueError, match="divide the image's"):
        block((x, x), condition_map=np.zeros((1, 3, 3, 1), "float32"))


def test_residual_needs_filters_channels():
    block = layers.GatedPixelCNNBlock(4, 3)
    x = np.zeros((1, HEIGHT, WIDTH, 3), "float32")
    with pytest.raises(ValueError, match="filters=4"):
        block((x, x))


@pytest.mark.parametrize("with_condition", [False, True])
def test_config_and_saving_round_trip(with_condition, tmp_path):
    generator = np.random.default_rng(3)
    x = generator.normal(size=(2, HEIGHT, WIDTH, 6)).astype("float32")
    call_kwargs = {}
    if with_condition:
        call_kwargs = {
            "condition": generator.normal(size=(2, 5)).astype("float32"),
            "condition_map": generator.normal(size=(2, 2, 3, 2)).astype("float32"),
        }
    # One input: both stacks read it (as the first layer reads the image).
    # (Outputs of one shape, which `check_layer` compares as one array.)
    checked = helpers.check_layer(
        layers.GatedPixelCNNBlock,
        dict(filters=6, kernel_size=3, num_channel_groups=3, skip_filters=6, name="block"),
        x,
        call_kwargs=call_kwargs,
        prepare=lambda layer: helpers.perturb_weights(layer, 0.3),
        expected_num_weights=14 if with_condition else 10,
        expected_config={"filters": 6, "kernel_size": 3, "skip_filters": 6},
        tmp_path=tmp_path,
    )
    assert checked.loaded.residual


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(filters=0), "filters"),
        (dict(filters=4, kernel_size=2), "kernel_size"),
        (dict(filters=4, mask_type="C"), "mask_type"),
        (dict(filters=4, num_channel_groups=3, skip_filters=2), "skip_filters"),
    ],
)
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        layers.GatedPixelCNNBlock(**kwargs)
