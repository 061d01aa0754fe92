"""The atomic TF Serving export: `EXPORT_DIR/<model_name>/<version>/`.

A version folder appears only once it is complete (written beside the
version folders under a name TF Serving ignores, then renamed), and an
existing version is never overwritten. The signatures are those of
`signatures.py`; the warm-up records those of `warmup.py`.
"""

import os
import shutil
import tempfile

import keras

from pixel_keras import sampling
from pixel_keras.conditioning import CONDITION
from pixel_keras.serving.signatures import serving_functions
from pixel_keras.serving.warmup import WARMUP_FILE
from pixel_keras.serving.warmup import example_requests
from pixel_keras.serving.warmup import write_warmup_requests
from pixel_keras.training import ema_weights


def _next_version(model_dir):
    versions = [
        int(name)
        for name in os.listdir(model_dir)
        if name.isascii() and name.isdigit()
    ]
    return max(versions, default=0) + 1


def export_model(
    model,
    export_dir,
    model_name,
    version=None,
    warmup=True,
    condition_name=CONDITION,
    xla=False,
):
    """Exports `model` as `export_dir/model_name/version/` for TF Serving.

    The SavedModel is written to a temporary folder beside the version
    folders (TF Serving loads only numeric names) and renamed into place, so
    a crash never leaves a half-written version that a server would load.
    When the model's optimizer keeps EMA (Polyak) weights, the export serves
    those; dropout is off in every signature.

    Args:
        model: a pixel_keras model.
        export_dir: the TF Serving base path (`/models` in the container).
        model_name: the model's folder (`MODEL_NAME` of the container).
        version: positive int, or None for one more than the newest version.
        warmup: whether to write `assets.extra/tf_serving_warmup_requests`.
        condition_name: the name of a conditional model's condition input
            in every signature: `"condition"`, or `"label"` for clients of
            exports before pixel_keras 0.2 (see `signatures.py`).
        xla: whether the sampling signatures run the XLA-compiled loop (see
            `signatures.serving_functions`): TF Serving then needs
            `--xla_cpu_compilation_enabled=true` on CPU.

    Returns:
        The version folder's path.

    Raises:
        FileExistsError: if the version folder exists (nothing is
            overwritten).
        ValueError: for a bad `model_name` or `version`.
    """
    if not model_name or os.sep in model_name or model_name.startswith("."):
        raise ValueError(
            "Expected `model_name` to be a folder name (no path separator, not "
            f"hidden). Received: model_name={model_name!r}"
        )
    if version is not None and (
        isinstance(version, bool) or not isinstance(version, int) or version < 1
    ):
        raise ValueError(f"Expected a positive int `version`. Received: version={version!r}")
    model_dir = os.path.join(export_dir, model_name)
    os.makedirs(model_dir, exist_ok=True)
    if version is None:
        version = _next_version(model_dir)
    final = os.path.join(model_dir, str(version))
    if os.path.exists(final):
        raise FileExistsError(
            f"{final!r} exists; export never overwrites a version. Pass another "
            "--version, or none to write the next one."
        )

    temporary = tempfile.mkdtemp(prefix=f".tmp-{version}-", dir=model_dir)
    try:
        staged = os.path.join(temporary, "saved_model")
        # A model trained with EMA (Polyak) weights serves those, as Keras'
        # own fit leaves them at its end; the caller's model gets its
        # weights back.
        with ema_weights(model):
            archive = keras.export.ExportArchive()
            archive.track(model)
            for name, (function, signature) in serving_functions(
                model, condition_name, xla=xla
            ).items():
                archive.add_endpoint(name, function, input_signature=signature)
            # Keras traces each signature to list its variables, and the
            # SavedModel writer again in its save context: the sampling
            # loops inside are traced once for both.
            with sampling.one_trace_per_loop():
                archive.write_out(staged, verbose=False)
        if warmup:
            write_warmup_requests(
                os.path.join(staged, WARMUP_FILE),
                model_name,
                example_requests(model, condition_name),
            )
        # Checked again just before the rename: another exporter may have
        # written this version meanwhile (and a rename onto a non-empty
        # folder fails rather than replacing it).
        if os.path.exists(final):
            raise FileExistsError(f"{final!r} appeared during the export; not replaced.")
        try:
            os.rename(staged, final)
        except OSError as error:
            raise FileExistsError(
                f"{final!r} appeared during the export; not replaced ({error})."
            ) from error
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
    return final
