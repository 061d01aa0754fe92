"""The API reference builds from the docstrings, and every public name is
in it (docs/api_reference.py, which CI runs too)."""

import importlib.util
import os
import types

import pytest

from tests import helpers


def _api_reference():
    spec = importlib.util.spec_from_file_location(
        "api_reference", os.path.join(helpers.ROOT, "docs", "api_reference.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow  # pdoc imports and renders every module: about 20 s
def test_the_reference_builds_with_no_problem(tmp_path):
    api_reference = _api_reference()
    assert api_reference.build(str(tmp_path / "api")) == []
    page = (tmp_path / "api" / "pixel_keras" / "models.html").read_text()
    for name in ("PixelCNNPlusPlus", "GatedPixelCNN", "AutoregressiveImageModel"):
        assert name in page


def test_a_name_in_all_that_is_not_defined_is_a_problem():
    api_reference = _api_reference()
    package = types.ModuleType("fake_package", "A package.")
    package.__all__ = ["defined", "missing"]
    package.defined = lambda: None
    package.defined.__module__ = "fake_package"
    problems = api_reference.problems_of([package])
    assert problems == ["fake_package.__all__ names 'missing', which it does not define"]
    del package.__all__
    assert api_reference.problems_of([package]) == ["fake_package has no __all__"]
