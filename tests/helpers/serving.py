"""Exports and serving requests the export tests share."""

import collections
import json
import os
import subprocess
import sys
import types

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2

from export import client
from pixel_keras.models import PixelCNN
from pixel_keras.models import PixelRNN
from pixel_keras.serving import SIGNATURE_NAMES

from tests.helpers.models import tiny_pixel_cnn_pp
from tests.helpers.processes import subprocess_env
from tests.helpers.seeding import set_random_seed

EXPORT_FAMILIES = ("pixel_cnn_pp", "diagonal_bilstm", "pixel_cnn")


def export_model_of(family):
    """The small model of `family` that the export tests export."""
    set_random_seed(11)
    if family == "pixel_cnn_pp":
        return tiny_pixel_cnn_pp(image_shape=(4, 4, 1))
    if family == "diagonal_bilstm":
        return PixelRNN.from_preset(
            "tiny", kind="diagonal_bilstm", num_filters=6, num_layers=1,
            output_filters=8, image_shape=(4, 4, 1), num_classes=3,
        )
    return PixelCNN.from_preset(
        "tiny", num_filters=6, num_layers=1, output_filters=8, image_shape=(4, 4, 3)
    )


def base_inputs(model):
    """Three images' worth of every input a signature can take."""
    rng = np.random.default_rng(0)
    height, width, channels = model.image_shape
    images = rng.integers(0, model.num_levels, (3, height, width, channels)).astype(np.uint8)
    images[0, 0, 0, 0] = model.num_levels - 1
    # Non-zero means known: 1 and 255 alike; the last pixel is always drawn.
    known = rng.choice(np.array([0, 1, 255], np.uint8), size=(3, height, width))
    known[:, -1, -1] = 0
    inputs = {
        "seed": np.array([[1, 2], [3, 4], [5, 6]], np.int32),
        "temperature": np.array([0.5, 1.0, 2.0], np.float32),
        "images": images,
        "known_mask": known,
    }
    if model.num_classes is not None:
        inputs["condition"] = np.array([0, 2, 1], np.int32)
    return inputs


def signature_inputs(model, signature, inputs, rows=slice(None)):
    """The inputs of one serving signature, taken from `base_inputs`."""
    names = {
        "serving_default": ["seed"],
        "sample_with_temperature": ["seed", "temperature"],
        "log_prob": ["images"],
        "complete": ["images", "known_mask", "seed"],
    }[signature]
    if model.num_classes is not None:
        names = names + ["condition"]
    return {name: inputs[name][rows] for name in names}


def client_request(signature, inputs):
    """The request the client (export/client.py) builds for `inputs` of
    `signature`, as `signature_inputs` gives them."""
    condition = inputs.get("condition")
    if signature in ("serving_default", "sample_with_temperature"):
        return client.sample_request(inputs["seed"], inputs.get("temperature"), condition)
    if signature == "log_prob":
        return client.log_prob_request(inputs["images"], condition)
    return client.complete_request(
        inputs["images"], inputs["known_mask"], inputs["seed"], condition
    )


def signature_calls(model):
    """Call id `<signature>--<tag>` -> inputs, sent to the loaded export."""
    base = base_inputs(model)
    calls = {f"{s}--batch": signature_inputs(model, s, base) for s in SIGNATURE_NAMES}
    # The seed rows [3, 4] and [5, 6] again, in other batches.
    other = dict(base, seed=np.array([[7, 8], [3, 4]], np.int32))
    if "condition" in base:
        other["condition"] = np.array([1, 2], np.int32)
    calls["serving_default--other"] = signature_inputs(model, "serving_default", other)
    calls["serving_default--single"] = signature_inputs(
        model, "serving_default", base, slice(2, 3)
    )
    calls["sample_with_temperature--single"] = signature_inputs(
        model, "sample_with_temperature", dict(base, temperature=np.ones(3, np.float32)),
        slice(1, 2),
    )
    calls["complete--single"] = signature_inputs(model, "complete", base, slice(2, 3))
    return calls


# Runs with keras, tf_keras, pixel_keras and export made uninstallable, as on
# a serving host (TensorFlow itself imports keras when it can).
LOAD_AND_CALL_WITHOUT_KERAS = r'''
import importlib.abc
import importlib.machinery
import json
import sys

ABSENT = ("keras", "tf_keras", "pixel_keras", "export")


class NotInstalled(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in ABSENT:
            return importlib.machinery.ModuleSpec(name, self)
        return None

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        raise ImportError(f"{module.__name__} is not installed here")


sys.meta_path.insert(0, NotInstalled())

import numpy as np
import tensorflow as tf

for version_dir, requests_path, results_path in json.loads(sys.argv[1]):
    loaded = tf.saved_model.load(version_dir)
    requests = np.load(requests_path)
    calls = {}
    for key in requests.files:
        call, name = key.rsplit("--", 1)
        calls.setdefault(call, {})[name] = tf.constant(requests[key])
    results = {"signatures": np.array(sorted(loaded.signatures))}
    for call, inputs in calls.items():
        outputs = loaded.signatures[call.split("--")[0]](**inputs)
        for name, value in outputs.items():
            results[f"{call}--{name}"] = value.numpy()
    np.savez(results_path, **results)

imported = sorted(m for m in sys.modules if m.partition(".")[0] in ABSENT)
assert "pixel_keras" not in sys.modules and "keras" not in sys.modules, imported
assert not imported, imported
print("loaded without", ", ".join(ABSENT))
'''


def call_signature(loaded_model, signature, inputs):
    """Calls a loaded signature on NumPy inputs; its outputs as NumPy."""
    outputs = loaded_model.signatures[signature](
        **{name: tf.constant(value) for name, value in inputs.items()}
    )
    return {name: value.numpy() for name, value in outputs.items()}


def assert_same_outputs(actual, expected):
    assert sorted(actual) == sorted(expected)
    for name in expected:
        assert actual[name].dtype == expected[name].dtype, name
        np.testing.assert_array_equal(actual[name], expected[name], err_msg=name)


def expected_signatures(model):
    """signature -> {"inputs"/"outputs": {name: (dtype, shape with None batch)}}."""
    height, width, channels = model.image_shape
    images = (tf.uint8, [None, height, width, channels])
    seed = (tf.int32, [None, 2])
    label = {"condition": (tf.int32, [None])} if model.num_classes is not None else {}
    return {
        "serving_default": {"inputs": {"seed": seed, **label}, "outputs": {"images": images}},
        "sample_with_temperature": {
            "inputs": {"seed": seed, "temperature": (tf.float32, [None]), **label},
            "outputs": {"images": images},
        },
        "log_prob": {
            "inputs": {"images": images, **label},
            "outputs": {
                "log_prob_nats": (tf.float32, [None]),
                "bits_per_dim": (tf.float32, [None]),
            },
        },
        "complete": {
            "inputs": {
                "images": images,
                "known_mask": (tf.uint8, [None, height, width]),
                "seed": seed,
                **label,
            },
            "outputs": {"images": images},
        },
    }


def signature_request(model, signature, **changes):
    """Two images' inputs of one signature, with some replaced."""
    inputs = signature_inputs(model, signature, base_inputs(model), slice(0, 2))
    inputs.update(changes)
    return inputs


def call_refused(loaded_model, signature, inputs, error=Exception):
    """Calls a loaded signature that must raise `error`; the message."""
    with pytest.raises(error) as info:
        call_signature(loaded_model, signature, inputs)
    return str(info.value)


def folder_files(folder):
    """Relative path -> bytes of every file under `folder`."""
    result = {}
    for directory, _, names in os.walk(folder):
        for name in names:
            path = os.path.join(directory, name)
            with open(path, "rb") as f:
                result[os.path.relpath(path, folder)] = f.read()
    return result


def serve_in_fresh_process(exported, folder):
    """Every signature call of `signature_calls`, run on each export in one
    fresh process that cannot import Keras or pixel_keras.

    Args:
        exported: family -> namespace(model, path).
        folder: a folder for the requests and results.

    Returns:
        family -> namespace(calls, outputs), `outputs` being `{call id ->
        {output name -> array}}` and `{"signatures": [names]}`.
    """
    jobs, calls = [], {}
    for family, entry in exported.items():
        calls[family] = signature_calls(entry.model)
        requests_path = os.path.join(folder, f"{family}-requests.npz")
        np.savez(
            requests_path,
            **{
                f"{call}--{name}": value
                for call, inputs in calls[family].items()
                for name, value in inputs.items()
            },
        )
        jobs.append([entry.path, requests_path, os.path.join(folder, f"{family}-results.npz")])
    run = subprocess.run(
        [sys.executable, "-c", LOAD_AND_CALL_WITHOUT_KERAS, json.dumps(jobs)],
        cwd=folder, env=subprocess_env(), capture_output=True, text=True, timeout=300,
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


def xla_compiled_functions(path):
    """The names of the functions the SavedModel marks `_XlaMustCompile`."""
    with open(os.path.join(path, "saved_model.pb"), "rb") as f:
        graph = saved_model_pb2.SavedModel.FromString(f.read()).meta_graphs[0].graph_def
    names = set()
    for function in graph.library.function:
        must_compile = function.attr.get("_XlaMustCompile")
        if must_compile is not None and must_compile.b:
            names.add(function.signature.name)
        for node in function.node_def:
            if "_XlaMustCompile" in node.attr and node.attr["_XlaMustCompile"].b:
                names.add(node.name)
    return names
