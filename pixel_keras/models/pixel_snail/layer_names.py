"""The names of a `PixelSNAIL`'s layers, defined once: the model is built
with them and its cached sampler finds the layers by them."""

# The first layer, as PixelCNN++'s down-right-shifted stream: a 1 x 3
# convolution of the row above and a 2 x 1 one of the pixels to the left.
STEM_ABOVE = "stem_above"
STEM_LEFT = "stem_left"
# The dense layer to the mixture's parameters (the logistic mixture head).
OUTPUT = "distribution_params"
# The categorical head of a colour image: a 1 x 1 mask-A convolution of the
# (encoded) pixel itself, added to the features, so that channel c's logits
# read the pixel's channels before c. The layers shared with the PixelRNN
# paper's models (the input encoding, the output stack) keep the names
# `models/categorical.py` gives them.
HEAD_PIXEL = "head_pixel"


def resnet_layer(block, index):
    """Gated residual block `index` (2 x 2 down-right-shifted convolutions)
    of attention block `block`."""
    return f"block_{block}_resnet_{index}"


def content_layer(block):
    """The 1 x 1 gated residual block over the features, the image and the
    background that block `block`'s keys and values are projected from."""
    return f"block_{block}_content"


def query_layer(block):
    """The 1 x 1 gated residual block over the features and the background
    that block `block`'s queries are projected from."""
    return f"block_{block}_query"


def attention_layer(block):
    """Block `block`'s `CausalAttention`."""
    return f"block_{block}_attention"


def merge_layer(block):
    """The 1 x 1 gated residual block that adds block `block`'s attention
    output (its skip input) to the features."""
    return f"block_{block}_merge"
