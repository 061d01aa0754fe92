"""`export_model(..., xla=True)`: the sampling signatures run the
XLA-compiled loop, as `model.sample` does, and serve what the default
(XLA-free) export serves."""

import types

import numpy as np
import pytest

from pixel_keras.serving import export_model
from tests import helpers


@pytest.mark.slow
def test_xla_export_serves_the_default_exports_outputs(exported, served, tmp_path):
    # Each XLA compile in the serving process costs seconds: with -m slow.
    xla_exported = {}
    for family, entry in exported.items():
        path = export_model(entry.model, str(tmp_path / "models"), family, xla=True)
        assert helpers.xla_compiled_functions(path), family
        xla_exported[family] = types.SimpleNamespace(model=entry.model, path=path)
    results = helpers.serve_in_fresh_process(xla_exported, str(tmp_path))
    for family, result in results.items():
        expected = served[family].outputs
        assert result.outputs["signatures"] == expected["signatures"]
        for call, outputs in expected.items():
            if call == "signatures":
                continue
            for name, value in outputs.items():
                if value.dtype.kind == "f":
                    np.testing.assert_allclose(
                        result.outputs[call][name], value, rtol=1e-5, atol=1e-5
                    )
                else:
                    np.testing.assert_array_equal(
                        result.outputs[call][name], value, err_msg=f"{family} {call}"
                    )


def test_default_export_marks_nothing_for_xla(exported):
    for entry in exported.values():
        assert not helpers.xla_compiled_functions(entry.path)
