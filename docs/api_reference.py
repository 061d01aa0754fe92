"""Builds the API reference from the docstrings with pdoc, and checks it.

    python docs/api_reference.py OUTPUT_DIR

writes HTML pages of `pixel_keras` and every subpackage into `OUTPUT_DIR`
(it must not exist yet) and exits with status 1, listing what is wrong, when:

- pdoc warns while reading a docstring or a signature (a broken docstring);
- a name in a package's `__all__` is not defined there, or is not in the
  reference (a missing public name);
- a public package has no `__all__`.

`__all__` says what each package makes public; CI runs this script
(`.ci/run`) into a temporary folder.
"""

import importlib
import os
import pathlib
import pkgutil
import sys
import warnings

# pdoc stops subprocesses during imports unless allowed; TensorFlow's
# `platform` calls one, and its warning is not about our docstrings.
os.environ.setdefault("PDOC_ALLOW_EXEC", "1")

import pdoc  # noqa: E402
import pdoc.doc  # noqa: E402
import pdoc.render  # noqa: E402

ROOT = "pixel_keras"


def public_packages():
    """`pixel_keras` and each of its subpackages, imported."""
    root = importlib.import_module(ROOT)
    names = [ROOT]
    for info in pkgutil.walk_packages(root.__path__, prefix=f"{ROOT}."):
        if info.ispkg and not any(part.startswith("_") for part in info.name.split(".")):
            names.append(info.name)
    return [importlib.import_module(name) for name in names]


def problems_of(packages):
    """What is wrong with the packages' `__all__` and their reference."""
    problems = []
    for package in packages:
        public = getattr(package, "__all__", None)
        if public is None:
            problems.append(f"{package.__name__} has no __all__")
            continue
        reference = pdoc.doc.Module(package)
        documented = set(reference.members) | {
            module.name for module in reference.submodules
        }
        for name in public:
            if not hasattr(package, name):
                problems.append(f"{package.__name__}.__all__ names {name!r}, which it does not define")
            elif name not in documented:
                problems.append(f"{package.__name__}.{name} is in __all__ but not in the reference")
    return problems


def build(output_directory):
    """Writes the reference into `output_directory`; returns the problems."""
    if os.path.exists(output_directory):
        raise FileExistsError(
            f"Expected OUTPUT_DIR to be a folder that does not exist yet. "
            f"Received: {output_directory!r}, which exists"
        )
    pdoc.render.configure(docformat="google", search=True, show_source=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        packages = public_packages()
        # The root names every subpackage: pdoc documents them from it.
        pdoc.pdoc(ROOT, output_directory=pathlib.Path(output_directory))
    problems = [
        f"pdoc: {warning.message}"
        for warning in caught
        if warning.filename and os.sep + "pdoc" + os.sep in warning.filename
    ]
    return problems + problems_of(packages)


def main(argv):
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    problems = build(argv[1])
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"{len(problems)} problem(s) in the API reference.", file=sys.stderr)
        return 1
    print(f"API reference written to {argv[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
