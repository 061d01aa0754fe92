"""`main.py export`: a trained checkpoint to a TF Serving model version."""

import os

from export.saved_model import export_model
from pixel_keras import commands
from pixel_keras.models import PixelCNN
from pixel_keras.models import PixelCNNPlusPlus


def default_model_name(model):
    """`pixel_cnn_pp`, `pixel_cnn`, `row_lstm` or `diagonal_bilstm`."""
    if isinstance(model, PixelCNNPlusPlus):
        return "pixel_cnn_pp"
    if isinstance(model, PixelCNN):
        return "pixel_cnn"
    return model.kind


def export(config):
    """Exports --checkpoint (default: the newest in --workdir).

    Writes `--export_dir/<--model_name>/<--version>/` (defaults:
    `<workdir>/export`, the model's kind, one more than the newest version).
    """
    model = commands.restore(config)
    export_dir = config.export_dir or os.path.join(config.workdir, "export")
    model_name = config.model_name or default_model_name(model)
    path = export_model(model, export_dir, model_name, version=config.version)
    print(
        f"Exported {model_name} version {os.path.basename(path)} to {path} "
        "(signatures: serving_default = sample, sample_with_temperature, "
        "log_prob, complete)."
    )
    return path
