"""SavedModel export for TF Serving.

This package is the home of the export module and its command line entry
(`main.py export`); it is kept apart from the flags binary and from the
`pixel_keras` library, which never imports it. The signatures (`sample`,
`log_prob`, `complete`) are not written yet: see BUILD.md, "Status".
"""
