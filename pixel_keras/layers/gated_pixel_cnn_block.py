"""The gated layer of the Gated PixelCNN: a vertical and a horizontal stack."""

import keras
from keras import ops

from pixel_keras.layers.activations import sigmoid
from pixel_keras.layers.masked_conv import MaskedConv2D
from pixel_keras.layers.stack_conv import HorizontalStackConv2D
from pixel_keras.layers.stack_conv import VerticalStackConv2D
from pixel_keras.layers.weight_norm import WeightNormConv2D


def gated_activation(pre_activations):
    """`tanh(a) * sigmoid(b)` of the two halves `a, b` of the last axis.

    Args:
        pre_activations: `(..., 2 p)` tensor.

    Returns:
        `(..., p)` tensor (a 16-bit `sigmoid` on a CPU in float32, see
        `layers.activations`).
    """
    # A split, not slices: its gradient is one concatenation.
    features, gates = ops.split(pre_activations, 2, axis=-1)
    return ops.tanh(features) * sigmoid(gates)


def upsample_nearest(condition_map, height, width):
    """A `(batch, h, w, c)` map repeated to `(batch, height, width, c)`;
    `h` and `w` must divide `height` and `width`."""
    rows, cols = condition_map.shape[1], condition_map.shape[2]
    if rows is None or cols is None or height % rows or width % cols:
        raise ValueError(
            "Expected a condition map whose height and width divide the image's "
            f"({height}, {width}). Received: condition_map.shape={tuple(condition_map.shape)}"
        )
    if rows != height:
        condition_map = ops.repeat(condition_map, height // rows, axis=1)
    if cols != width:
        condition_map = ops.repeat(condition_map, width // cols, axis=2)
    return condition_map


@keras.saving.register_keras_serializable(package="pixel_keras")
class GatedPixelCNNBlock(keras.layers.Layer):
    """One gated layer of the Gated PixelCNN (van den Oord et al., 2016).

    Computes, with `p = filters` and `gate(a, b) = tanh(a) * sigmoid(b)`:

    ```
    v_pre = vertical_conv(v) [+ V_v condition] [+ 1x1(condition_map)]  # 2p
    h_pre = horizontal_conv(h) + link(v_pre)
            [+ V_h condition] [+ 1x1(condition_map)]                      # 2p
    v_out = gate(v_pre)                                                   # p
    g = gate(h_pre)                                                       # p
    h_out = [h +] residual(g)                                             # p
    skip = skip(g)                                                        # skip_filters
    ```

    The 1 x 1 `link` reads the vertical stack's *pre-activations*, before
    its gate, as the paper's Figure 2 wires it (some public ports add it
    after the gate), and needs no mask: the vertical stack sees only rows
    above. Nothing flows from the horizontal stack into the vertical one,
    which would leak the current row. The horizontal stack's 1 x 1
    convolutions (`residual`, `skip`) are mask-B `MaskedConv2D`s with the
    image's channel groups, so R -> G -> B order holds through the layer;
    the vertical stack has no residual connection.

    The condition is a vector `(batch, d)` (a one-hot class, any vector:
    a learned linear map of it is added per channel to both stacks'
    pre-activations), a map `(batch, h, w, c)` whose `h` and `w` divide the
    image's (a 1 x 1 convolution of it, upsampled by repeating each value,
    nearest, to the image's size: the VQ-VAE-2 bottom prior's conditioning
    on the top code map), both, or neither. Neither depends on a pixel, so
    neither affects causality.

    Args:
        filters: int p, the gated feature maps of each stack.
        kernel_size: odd int n: the vertical convolution is
            `ceil(n / 2) x n`, the horizontal one `1 x ceil(n / 2)`.
        mask_type: `"A"` for the first layer (reading the image: rows
            strictly above, and strictly earlier channels of the pixel),
            `"B"` for every later one.
        num_channel_groups: int, the image's colour channels C.
        residual: bool, add the horizontal input to its output (needs
            `filters` input channels; the first layer, reading the image,
            has none).
        skip_filters: int, channels of the skip output; None for `filters`.
        kernel_initializer: initializer of every kernel.
        weight_norm: bool, whether the stacks' convolutions, the link and
            the 1 x 1 convolutions are weight-normalized (`weight_norm.py`;
            the condition's projections, which have no bias, are not).
        **kwargs: base `keras.layers.Layer` arguments (name, dtype, ...).

    Call arguments:
        inputs: a pair `(vertical, horizontal)` of `(batch, height, width,
            channels)` maps, the previous layer's stacks, or one map that
            both stacks read (the first layer's (encoded) image).
        condition: optional `(batch, d)` condition vector.
        condition_map: optional `(batch, h, w, c)` condition map.

    Returns:
        `(vertical, horizontal, skip)`: `(batch, height, width, filters)`,
        the same, and `(batch, height, width, skip_filters)`.

    Example:

    >>> block = GatedPixelCNNBlock(8, 3, mask_type="A", num_channel_groups=3)
    >>> image = keras.ops.ones((2, 5, 7, 3))
    >>> [tuple(x.shape) for x in block(image)]
    [(2, 5, 7, 8), (2, 5, 7, 8), (2, 5, 7, 8)]

    Reference:
        van den Oord, Kalchbrenner, Espeholt, Vinyals, Graves,
        Kavukcuoglu. Conditional Image Generation with PixelCNN Decoders.
        NeurIPS 2016. https://arxiv.org/abs/1606.05328
    """

    def __init__(
        self,
        filters,
        kernel_size=3,
        mask_type="B",
        num_channel_groups=1,
        residual=True,
        skip_filters=None,
        kernel_initializer="glorot_uniform",
        weight_norm=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if isinstance(filters, bool) or not (isinstance(filters, int) and filters >= 1):
            raise ValueError(
                f"Expected `filters` to be a positive int. Received: filters={filters!r}"
            )
        if skip_filters is not None and (
            isinstance(skip_filters, bool)
            or not (isinstance(skip_filters, int) and skip_filters >= num_channel_groups)
        ):
            raise ValueError(
                "Expected `skip_filters` to be None or an int of at least "
                f"`num_channel_groups` ({num_channel_groups}). "
                f"Received: skip_filters={skip_filters!r}"
            )
        self.filters = filters
        self.kernel_size = kernel_size
        self.mask_type = mask_type
        self.num_channel_groups = num_channel_groups
        self.residual = bool(residual)
        self.skip_filters = skip_filters
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.weight_norm = bool(weight_norm)
        normalized = {"weight_norm": self.weight_norm}

        def layer(cls, units, name, **arguments):
            return cls(
                units,
                kernel_initializer=self.kernel_initializer,
                dtype=self.dtype_policy,
                name=name,
                **arguments,
            )

        self.vertical_conv = layer(
            VerticalStackConv2D, 2 * filters, "vertical_conv",
            kernel_size=kernel_size, mask_type=mask_type, **normalized,
        )
        self.horizontal_conv = layer(
            HorizontalStackConv2D, 2 * filters, "horizontal_conv",
            kernel_size=kernel_size, mask_type=mask_type,
            num_channel_groups=num_channel_groups, output_blocks=2, **normalized,
        )
        # A plain 1 x 1: the vertical stack sees rows above only, which any
        # channel of the horizontal stack may read.
        link_class = WeightNormConv2D if self.weight_norm else keras.layers.Conv2D
        self.link = layer(link_class, 2 * filters, "link", kernel_size=1)
        self.residual_conv = layer(
            MaskedConv2D, filters, "residual_conv",
            kernel_size=1, num_channel_groups=num_channel_groups, **normalized,
        )
        self.skip_conv = layer(
            MaskedConv2D, skip_filters or filters, "skip_conv",
            kernel_size=1, num_channel_groups=num_channel_groups, **normalized,
        )
        # Built on the first call that passes a condition (their input
        # sizes are the condition's).
        self.vertical_condition = layer(
            keras.layers.Dense, 2 * filters, "vertical_condition", use_bias=False
        )
        self.horizontal_condition = layer(
            keras.layers.Dense, 2 * filters, "horizontal_condition", use_bias=False
        )
        self.vertical_condition_map = layer(
            keras.layers.Conv2D, 2 * filters, "vertical_condition_map",
            kernel_size=1, use_bias=False,
        )
        self.horizontal_condition_map = layer(
            keras.layers.Conv2D, 2 * filters, "horizontal_condition_map",
            kernel_size=1, use_bias=False,
        )

    def build(self, input_shape):
        if isinstance(input_shape[0], (tuple, list)):
            vertical_shape, horizontal_shape = input_shape
        else:
            vertical_shape = horizontal_shape = input_shape
        if self.residual and horizontal_shape[-1] != self.filters:
            raise ValueError(
                f"`{self.name}` adds its horizontal input to its output (residual=True), "
                f"so that input needs filters={self.filters} channels. Received: "
                f"horizontal shape {tuple(horizontal_shape)}"
            )
        self.vertical_conv.build(vertical_shape)
        self.horizontal_conv.build(horizontal_shape)
        pre_activations = (*vertical_shape[:-1], 2 * self.filters)
        self.link.build(pre_activations)
        gated = (*horizontal_shape[:-1], self.filters)
        self.residual_conv.build(gated)
        self.skip_conv.build(gated)

    @property
    def conditioned_on_vector(self):
        """Whether the layer has been called with a condition vector."""
        return self.vertical_condition.built

    @property
    def conditioned_on_map(self):
        """Whether the layer has been called with a condition map."""
        return self.vertical_condition_map.built

    def call(self, inputs, condition=None, condition_map=None):
        if isinstance(inputs, (tuple, list)):
            vertical, horizontal = inputs
        else:
            vertical = horizontal = inputs
        v_pre = self.vertical_conv(vertical)
        h_pre = self.horizontal_conv(horizontal)
        if condition is not None:
            v_pre = v_pre + self.vertical_condition(condition)[:, None, None, :]
            h_pre = h_pre + self.horizontal_condition(condition)[:, None, None, :]
        if condition_map is not None:
            height, width = v_pre.shape[1], v_pre.shape[2]
            # The 1 x 1 convolutions at the map's resolution, then the
            # upsampling: the same values (a 1 x 1 convolution commutes with
            # repeating pixels), with fewer multiplications.
            v_pre = v_pre + upsample_nearest(
                self.vertical_condition_map(condition_map), height, width
            )
            h_pre = h_pre + upsample_nearest(
                self.horizontal_condition_map(condition_map), height, width
            )
        # The link reads the vertical pre-activations, before their gate.
        h_pre = h_pre + self.link(v_pre)
        gated = gated_activation(h_pre)
        outputs = self.residual_conv(gated)
        if self.residual:
            outputs = outputs + horizontal
        return gated_activation(v_pre), outputs, self.skip_conv(gated)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "filters": self.filters,
                "kernel_size": self.kernel_size,
                "mask_type": self.mask_type,
                "num_channel_groups": self.num_channel_groups,
                "residual": self.residual,
                "skip_filters": self.skip_filters,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "weight_norm": self.weight_norm,
            }
        )
        return config
