"""The import contracts of pyproject.toml hold (import-linter).

Imports flow one way (layers -> distributions -> sampling -> models ->
training / data -> serving -> command line, and nothing installed imports
the checkout's `cli` and `export`), the model families do not import one
another, the sampling loops import no model, and the TF Serving client
(export/client.py) imports no pixel_keras.
"""

import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_import_contracts_are_kept():
    # The interpreter's own scripts first: `.venv/bin/python -m pytest` runs
    # without the environment's bin folder on PATH.
    lint_imports = shutil.which(
        "lint-imports", path=os.path.dirname(sys.executable)
    ) or shutil.which("lint-imports")
    assert lint_imports, "import-linter is not installed (pip install -r requirements.txt)"
    run = subprocess.run(
        [lint_imports, "--no-cache"],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=ROOT),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "0 broken" in run.stdout
