"""The names of a `PixelCNNPlusPlus`'s layers, defined once: the model is
built with them and its cached sampler finds the layers by them."""

# The first layer: the down-shifted stream's 2 x 3 convolution, and the
# down-right-shifted stream's 1 x 3 (row above) and 2 x 1 (pixels left).
STEM_DOWN = "stem_down"
STEM_DOWN_RIGHT_ABOVE = "stem_down_right_above"
STEM_DOWN_RIGHT_LEFT = "stem_down_right_left"
# The dense layer to the mixture's parameters.
OUTPUT = "distribution_params"


def block_layer(direction, level, stream, index):
    """Gated block `index` of `stream` (`"u"`: down-shifted, `"ul"`:
    down-right-shifted) at U-Net `level` of the `direction` (`"down"` or
    `"up"`) pass."""
    return f"{direction}_{level}_{stream}_{index}"


def stride_layer(direction, level, stream):
    """The strided convolution into `level` (`"down"`), or the transposed
    one out of the coarser level into `level` (`"up"`), of `stream`."""
    return f"{direction}_{level}_{stream}_stride"
