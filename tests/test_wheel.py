"""The wheel that `pip install .` installs: one top-level package,
`pixel_keras`, with its command line (`pixel_keras/cli/`, the `pixel-keras`
console script) and TF Serving export (`pixel_keras/serving/`), and nothing
else (no `export`, no `cli`, no `tests`).

It is built as a fresh clone builds it: from a copy of the files git tracks
(and the new ones it does not ignore), so the checkout's own `build/` and
`*.egg-info` folders, which setuptools reads back, play no part; `python -m
build` makes the sdist and the wheel from that sdist (about 5 s).
.ci/installed_package.sh installs such a wheel and runs the commands.
"""

import configparser
import os
import shutil
import subprocess
import sys
import zipfile

import pytest

import pixel_keras
from tests import helpers


def _source_files(root):
    """The checkout's files a clone would have (relative paths)."""
    if shutil.which("git") and os.path.isdir(os.path.join(root, ".git")):
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=root, capture_output=True, check=True, timeout=60,
        ).stdout.decode()
        # A file deleted but not yet committed is still listed.
        return [p for p in listed.split("\0") if p and os.path.isfile(os.path.join(root, p))]
    ignored = {".git", ".venv", "build", "dist", "__pycache__", "workdir", ".hypothesis"}
    files = []
    for directory, folders, names in os.walk(root):
        folders[:] = [f for f in folders if f not in ignored and not f.endswith(".egg-info")]
        files += [os.path.relpath(os.path.join(directory, n), root) for n in names]
    return files


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """(the wheel's files: path -> bytes, the source's pixel_keras/ paths)."""
    source = tmp_path_factory.mktemp("source")
    files = _source_files(helpers.ROOT)
    for path in files:
        os.makedirs(source / os.path.dirname(path), exist_ok=True)
        shutil.copy2(os.path.join(helpers.ROOT, path), source / path)
    dist = tmp_path_factory.mktemp("dist")
    run = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(dist), str(source)],
        capture_output=True, text=True, timeout=600,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    (name,) = [n for n in os.listdir(dist) if n.endswith(".whl")]
    assert name == f"pixel_keras-{pixel_keras.__version__}-py3-none-any.whl"
    with zipfile.ZipFile(dist / name) as archive:
        contents = {n: archive.read(n) for n in archive.namelist()}
    package = {p.replace(os.sep, "/") for p in files if p.startswith("pixel_keras" + os.sep)}
    return contents, package


def test_only_pixel_keras_is_installed(wheel):
    contents, _ = wheel
    info = f"pixel_keras-{pixel_keras.__version__}.dist-info"
    assert {name.split("/")[0] for name in contents} == {"pixel_keras", info}


def test_the_command_line_and_the_export_are_in_the_package(wheel):
    contents, package = wheel
    for name in ("cli/__init__.py", "cli/main.py", "cli/commands.py", "cli/flags.py",
                 "serving/__init__.py", "serving/saved_model.py", "serving/signatures.py",
                 "serving/warmup.py"):
        assert f"pixel_keras/{name}" in contents, name
    # Every module of the source's package, and nothing it lacks.
    python = {n for n in contents if n.startswith("pixel_keras/")}
    assert python == package


def test_console_script_and_the_default_runs_data(wheel):
    contents, _ = wheel
    info = f"pixel_keras-{pixel_keras.__version__}.dist-info"
    entry_points = configparser.ConfigParser()
    entry_points.read_string(contents[f"{info}/entry_points.txt"].decode())
    assert dict(entry_points["console_scripts"]) == {"pixel-keras": "pixel_keras.cli.main:run"}
    metadata = contents[f"{info}/METADATA"].decode()
    assert f"Version: {pixel_keras.__version__}\n" in metadata
    # The default run's digits are scikit-learn's bundled 8x8 digits: no data
    # file of ours, a dependency instead.
    requirements = [
        line.split(":", 1)[1].strip() for line in metadata.splitlines()
        if line.startswith("Requires-Dist:")
    ]
    for needed in ("scikit-learn", "absl-py", "matplotlib", "tensorflow-serving-api"):
        assert any(r.startswith(needed) for r in requirements), (needed, requirements)
