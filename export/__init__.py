"""SavedModel export of pixel_keras models for TF Serving.

Kept apart from the `pixel_keras` library, which never imports it:
`signatures.py` (the serving functions and their request checks),
`warmup.py` (TF Serving warm-up records) and `saved_model.py`
(`export_model`: the atomic, versioned export).
"""

from export.saved_model import export_model
from export.signatures import LEGACY_LABEL_NAME
from export.signatures import SIGNATURE_NAMES
from export.signatures import serving_functions
from export.warmup import WARMUP_FILE

__all__ = [
    "LEGACY_LABEL_NAME",
    "SIGNATURE_NAMES",
    "WARMUP_FILE",
    "export_model",
    "serving_functions",
]
