"""Fixtures of the export tests: one export per model family, shared by
every file of this folder, and its signatures called in a fresh process."""

import types

import pytest
import tensorflow as tf

from pixel_keras.serving import export_model
from tests import helpers


@pytest.fixture(scope="package")
def exported(tmp_path_factory):
    """family -> namespace(model, path): one export per model family."""
    export_dir = tmp_path_factory.mktemp("models")
    result = {}
    for family in helpers.EXPORT_FAMILIES:
        model = helpers.export_model_of(family)
        path = export_model(model, str(export_dir), family)
        result[family] = types.SimpleNamespace(model=model, path=path)
    return result


@pytest.fixture(scope="package")
def served(exported, tmp_path_factory):
    """family -> namespace(calls, outputs): `{call id -> {output name ->
    array}}` from a fresh process."""
    return helpers.serve_in_fresh_process(exported, tmp_path_factory.mktemp("served"))


@pytest.fixture(scope="package")
def loaded(exported):
    return {family: tf.saved_model.load(entry.path) for family, entry in exported.items()}
