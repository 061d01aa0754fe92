"""The models `--model` names, and building one from the flags."""

from pixel_keras.models import GatedPixelCNN
from pixel_keras.models import PixelCNN
from pixel_keras.models import PixelCNNPlusPlus
from pixel_keras.models import PixelRNN
from pixel_keras.models import PixelSNAIL

# --model -> (model class, fixed constructor arguments, display name).
MODELS = {
    "pixel_cnn_pp": (PixelCNNPlusPlus, {}, "PixelCNN++"),
    "pixel_cnn": (PixelCNN, {}, "PixelCNN"),
    "row_lstm": (PixelRNN, {"kind": "row_lstm"}, "Row LSTM PixelRNN"),
    "diagonal_bilstm": (PixelRNN, {"kind": "diagonal_bilstm"}, "Diagonal BiLSTM PixelRNN"),
    "gated_pixel_cnn": (GatedPixelCNN, {}, "Gated PixelCNN"),
    "pixel_snail": (PixelSNAIL, {}, "PixelSNAIL"),
}

# The flags that override a preset, per model class.
_ARCHITECTURE_FLAGS = {
    PixelCNNPlusPlus: (
        "num_filters",
        "num_resnet",
        "num_hierarchies",
        "num_logistic_mix",
        "dropout",
        "weight_norm",
    ),
    PixelCNN: ("num_filters", "num_layers", "output_filters", "weight_norm"),
    PixelRNN: ("num_filters", "num_layers", "output_filters"),
    GatedPixelCNN: ("num_filters", "num_layers", "kernel_size", "output_filters", "weight_norm"),
    PixelSNAIL: (
        "num_filters",
        "num_blocks",
        "num_resnet",
        "num_heads",
        "key_dim",
        "value_dim",
        "num_logistic_mix",
        "dropout",
        "weight_norm",
    ),
}
_ALL_ARCHITECTURE_FLAGS = sorted({f for flags in _ARCHITECTURE_FLAGS.values() for f in flags})


def model_choice(config):
    """`(model class, fixed constructor arguments, display name)` of --model."""
    name = getattr(config, "model", "pixel_cnn_pp")
    if name not in MODELS:
        raise ValueError(f"Expected --model in {sorted(MODELS)}. Received: --model={name!r}")
    return MODELS[name]


def build_model(config, dataset):
    """The --model with its --preset, for `dataset`'s images, levels and (with
    --class_conditional) classes, with every architecture flag given.

    Raises:
        ValueError: for an architecture flag of another model.
    """
    model_class, fixed, _ = model_choice(config)
    allowed = _ARCHITECTURE_FLAGS[model_class]
    overrides = {}
    for name in _ALL_ARCHITECTURE_FLAGS:
        value = getattr(config, name, None)
        if value is None:
            continue
        if name not in allowed:
            raise ValueError(
                f"--{name} does not apply to --model={config.model}; it takes "
                f"{', '.join('--' + flag for flag in allowed)}."
            )
        overrides[name] = value
    if getattr(config, "dtype_policy", None) is not None:
        overrides["dtype"] = config.dtype_policy
    return model_class.from_preset(
        config.preset,
        image_shape=dataset.image_shape,
        num_levels=dataset.num_levels,
        num_classes=dataset.num_classes if config.class_conditional else None,
        **fixed,
        **overrides,
    )


def model_kind(model):
    """The --model name of a model: `pixel_cnn_pp`, `pixel_cnn`, `row_lstm`,
    `diagonal_bilstm`, `gated_pixel_cnn` or `pixel_snail`."""
    if isinstance(model, PixelCNNPlusPlus):
        return "pixel_cnn_pp"
    if isinstance(model, GatedPixelCNN):
        return "gated_pixel_cnn"
    if isinstance(model, PixelSNAIL):
        return "pixel_snail"
    if isinstance(model, PixelCNN):
        return "pixel_cnn"
    return model.kind
