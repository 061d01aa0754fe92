"""SavedModel export of pixel_keras models for TF Serving.

Kept apart from the flags binary and from the `pixel_keras` library, which
never imports it. `export_model` writes `EXPORT_DIR/<model_name>/<version>/`
with the `serving_default` (sample), `sample_with_temperature`, `log_prob`
and `complete` signatures and TF Serving warm-up requests.
"""

from export.saved_model import SIGNATURE_NAMES
from export.saved_model import export_model
from export.saved_model import serving_functions

__all__ = ["SIGNATURE_NAMES", "export_model", "serving_functions"]
