"""Fixtures of the export tests: one export per model family, shared by
every file of this folder, and its signatures called in a fresh process."""

import collections
import json
import subprocess
import sys
import types

import numpy as np
import pytest
import tensorflow as tf

from export import export_model
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
    """family -> {call id -> {output name -> array}} from a fresh process."""
    folder = tmp_path_factory.mktemp("served")
    jobs, calls = [], {}
    for family, entry in exported.items():
        calls[family] = helpers.signature_calls(entry.model)
        requests_path = str(folder / f"{family}-requests.npz")
        np.savez(
            requests_path,
            **{
                f"{call}--{name}": value
                for call, inputs in calls[family].items()
                for name, value in inputs.items()
            },
        )
        jobs.append([entry.path, requests_path, str(folder / f"{family}-results.npz")])
    run = subprocess.run(
        [sys.executable, "-c", helpers.LOAD_AND_CALL_WITHOUT_KERAS, json.dumps(jobs)],
        cwd=folder, env=helpers.subprocess_env(), capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "loaded without" in run.stdout
    result = {}
    for family, (_, _, results_path) in zip(exported, jobs):
        with np.load(results_path) as results:
            outputs = collections.defaultdict(dict)
            for key in results.files:
                if key == "signatures":
                    outputs[key] = results[key].tolist()
                    continue
                call, name = key.rsplit("--", 1)
                outputs[call][name] = results[key]
        result[family] = types.SimpleNamespace(calls=calls[family], outputs=outputs)
    return result


@pytest.fixture(scope="package")
def loaded(exported):
    return {family: tf.saved_model.load(entry.path) for family, entry in exported.items()}
