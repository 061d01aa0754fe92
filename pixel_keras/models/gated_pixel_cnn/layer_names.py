"""The names of a `GatedPixelCNN`'s layers, defined once: the model is built
with them and its cached sampler finds the layers by them. The layers the
PixelRNN paper's models share (the encoding and the output stack) are named
in `models/categorical.py`."""

# The sum of the horizontal stack's last output and every layer's skip
# output, which the output stack reads.
SKIP_SUM = "skip_sum"


def block_name(index):
    """The `GatedPixelCNNBlock` of layer `index` (0 is the mask-A layer that
    reads the image)."""
    return f"gated_block_{index}"
