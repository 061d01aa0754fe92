"""The names of a `PixelRNN`'s layers, defined once: the model is built with
them and its cached samplers find the layers by them. The layers the
PixelRNN paper's models share are named in `models/categorical.py`."""

# The Diagonal BiLSTM's mask-B view of the image for the first backward
# direction.
INPUT_CONV_BACKWARD = "input_conv_backward"
SKIP_SUM = "skip_sum"


def layer_part(index, part):
    """The layer `part` of recurrent layer `index`: `"class_bias"` (the
    condition bias, labels or values: the name predates values and is kept so
    that earlier checkpoints load), `"lstm"`, `"residual"` or `"skip"`."""
    return f"layer_{index}_{part}"
