"""The names of a `PixelCNN`'s layers, defined once: the model is built with
them and its cached sampler finds the layers by them. The layers the
PixelRNN paper's models share are named in `models/categorical.py`."""


def block_layer(index, part):
    """The layer `part` of residual block `index`: `"class_bias"` (the
    condition bias, labels or values: the name predates values and is kept so
    that earlier checkpoints load), `"reduce"`, `"conv"` or `"expand"`."""
    return f"block_{index}_{part}"
