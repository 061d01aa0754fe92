"""SavedModel export of pixel_keras models for TF Serving.

Only the command line (`pixel-keras export`) imports it; the layers below
it never do:

- `signatures.py`: the serving functions and their request checks.
- `warmup.py`: TF Serving warm-up records.
- `saved_model.py`: `export_model`, the atomic, versioned export.

The kit for running TF Serving (the docker command, a REST and gRPC client)
is the checkout's `export/` folder, which is not installed.
"""

from pixel_keras.serving.saved_model import export_model
from pixel_keras.serving.signatures import LEGACY_LABEL_NAME
from pixel_keras.serving.signatures import SIGNATURE_NAMES
from pixel_keras.serving.signatures import serving_functions
from pixel_keras.serving.warmup import WARMUP_FILE

__all__ = [
    "LEGACY_LABEL_NAME",
    "SIGNATURE_NAMES",
    "WARMUP_FILE",
    "export_model",
    "serving_functions",
]
