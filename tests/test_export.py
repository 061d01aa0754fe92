"""SavedModel / TF Serving export: the loaded signatures against the model.

The exports are loaded in a process that has neither pixel_keras nor keras,
and checked against the in-memory model; saved_model_cli, an audit of every
op, PredictRequest / REST JSON / warm-up replays, bad requests, atomic and
never-overwriting version folders, and `main.py export`.
"""

import collections
import json
import os
import re
import subprocess
import sys
import types

import keras
import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.framework import types_pb2
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow.python.framework import op_def_registry
from tensorflow_serving.apis import model_pb2
from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.apis import prediction_log_pb2

from cli import commands as export_command
from export import SIGNATURE_NAMES
from export import WARMUP_FILE
from export import export_model
from cli import commands
from pixel_keras import data
from pixel_keras import training
from pixel_keras.models import PixelCNN
from pixel_keras.models import PixelRNN
from tests.conftest import tiny_pixel_cnn_pp
from tests.graph_audit import broadcasting_matmuls

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FAMILIES = ("pixel_cnn_pp", "diagonal_bilstm", "pixel_cnn")
ENV = dict(os.environ, CUDA_VISIBLE_DEVICES="", TF_CPP_MIN_LOG_LEVEL="2")


def _build(family):
    keras.utils.set_random_seed(11)
    if family == "pixel_cnn_pp":
        return tiny_pixel_cnn_pp(image_shape=(6, 6, 1))
    if family == "diagonal_bilstm":
        return PixelRNN.from_preset(
            "tiny", kind="diagonal_bilstm", num_filters=6, num_layers=1,
            output_filters=8, image_shape=(4, 4, 1), num_classes=3,
        )
    return PixelCNN.from_preset(
        "tiny", num_filters=6, num_layers=1, output_filters=8, image_shape=(4, 4, 3)
    )


def _base_inputs(model):
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


def _signature_inputs(model, signature, inputs, rows=slice(None)):
    names = {
        "serving_default": ["seed"],
        "sample_with_temperature": ["seed", "temperature"],
        "log_prob": ["images"],
        "complete": ["images", "known_mask", "seed"],
    }[signature]
    if model.num_classes is not None:
        names = names + ["condition"]
    return {name: inputs[name][rows] for name in names}


def _calls(model):
    """Call id `<signature>--<tag>` -> inputs, sent to the loaded export."""
    base = _base_inputs(model)
    calls = {f"{s}--batch": _signature_inputs(model, s, base) for s in SIGNATURE_NAMES}
    # The seed rows [3, 4] and [5, 6] again, in other batches.
    other = dict(base, seed=np.array([[7, 8], [3, 4]], np.int32))
    if "condition" in base:
        other["condition"] = np.array([1, 2], np.int32)
    calls["serving_default--other"] = _signature_inputs(model, "serving_default", other)
    calls["serving_default--single"] = _signature_inputs(
        model, "serving_default", base, slice(2, 3)
    )
    calls["sample_with_temperature--single"] = _signature_inputs(
        model, "sample_with_temperature", dict(base, temperature=np.ones(3, np.float32)),
        slice(1, 2),
    )
    calls["complete--single"] = _signature_inputs(model, "complete", base, slice(2, 3))
    return calls


# Runs with keras, tf_keras, pixel_keras and export made uninstallable, as on
# a serving host (TensorFlow itself imports keras when it can).
_LOAD_AND_CALL = r'''
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


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """family -> namespace(model, path): one export per model family."""
    export_dir = tmp_path_factory.mktemp("models")
    result = {}
    for family in FAMILIES:
        model = _build(family)
        path = export_model(model, str(export_dir), family)
        result[family] = types.SimpleNamespace(model=model, path=path)
    return result


@pytest.fixture(scope="module")
def served(exported, tmp_path_factory):
    """family -> {call id -> {output name -> array}} from a fresh process."""
    folder = tmp_path_factory.mktemp("served")
    jobs, calls = [], {}
    for family, entry in exported.items():
        calls[family] = _calls(entry.model)
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
        [sys.executable, "-c", _LOAD_AND_CALL, json.dumps(jobs)],
        cwd=folder, env=ENV, capture_output=True, text=True, timeout=300,
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


@pytest.fixture(scope="module")
def loaded(exported):
    return {family: tf.saved_model.load(entry.path) for family, entry in exported.items()}


def _call(loaded_model, signature, inputs):
    outputs = loaded_model.signatures[signature](
        **{name: tf.constant(value) for name, value in inputs.items()}
    )
    return {name: value.numpy() for name, value in outputs.items()}


def _assert_same_outputs(actual, expected):
    assert sorted(actual) == sorted(expected)
    for name in expected:
        assert actual[name].dtype == expected[name].dtype, name
        np.testing.assert_array_equal(actual[name], expected[name], err_msg=name)


@pytest.mark.parametrize("family", FAMILIES)
def test_signatures_loaded_without_pixel_keras_equal_the_model(exported, served, family):
    model = exported[family].model
    outputs = served[family].outputs
    base = _base_inputs(model)
    labels = base.get("condition")
    assert sorted(outputs["signatures"]) == sorted(SIGNATURE_NAMES)

    got = outputs["log_prob--batch"]
    assert got["log_prob_nats"].dtype == np.float32 and got["log_prob_nats"].shape == (3,)
    np.testing.assert_allclose(
        got["log_prob_nats"], model.log_prob(base["images"], labels).numpy(),
        rtol=1e-5, atol=1e-5,
    )
    np.testing.assert_allclose(
        got["bits_per_dim"], model.bits_per_dim(base["images"], labels).numpy(),
        rtol=1e-5, atol=1e-6,
    )

    samples = outputs["serving_default--batch"]["images"]
    assert samples.dtype == np.uint8 and samples.shape == (3, *model.image_shape)
    assert samples.max() <= model.num_levels - 1
    np.testing.assert_array_equal(
        samples, model.sample(3, seed=base["seed"], condition=labels).numpy()
    )
    np.testing.assert_array_equal(
        outputs["sample_with_temperature--batch"]["images"],
        model.sample(
            3, seed=base["seed"], condition=labels, temperature=base["temperature"]
        ).numpy(),
    )

    completed = outputs["complete--batch"]["images"]
    np.testing.assert_array_equal(
        completed,
        model.complete(
            base["images"], base["known_mask"] != 0, seed=base["seed"], condition=labels
        ).numpy(),
    )
    known = base["known_mask"] != 0
    np.testing.assert_array_equal(completed[known], base["images"][known])
    assert not np.array_equal(completed[~known], base["images"][~known])


@pytest.mark.parametrize("family", FAMILIES)
def test_image_depends_only_on_its_own_seed_and_label(served, family):
    outputs = served[family].outputs
    batch = outputs["serving_default--batch"]["images"]
    assert not np.array_equal(batch[0], batch[1]) or not np.array_equal(batch[1], batch[2])
    np.testing.assert_array_equal(outputs["serving_default--other"]["images"][1], batch[1])
    np.testing.assert_array_equal(outputs["serving_default--single"]["images"][0], batch[2])
    # Temperature 1 is the default sampler.
    np.testing.assert_array_equal(
        outputs["sample_with_temperature--single"]["images"][0], batch[1]
    )
    np.testing.assert_array_equal(
        outputs["complete--single"]["images"][0], outputs["complete--batch"]["images"][2]
    )


def _expected_signatures(model):
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


def _specs(specs):
    return {name: (spec.dtype, spec.shape.as_list()) for name, spec in specs.items()}


@pytest.mark.parametrize("family", FAMILIES)
def test_loaded_signature_specs(exported, loaded, family):
    expected = _expected_signatures(exported[family].model)
    signatures = loaded[family].signatures
    assert sorted(signatures) == sorted(expected)
    for name, function in signatures.items():
        args, kwargs = function.structured_input_signature
        assert args == ()
        outputs = function.structured_outputs
        assert _specs(kwargs) == expected[name]["inputs"]
        assert _specs(outputs) == expected[name]["outputs"]


def _saved_model_cli(*args):
    run = subprocess.run(
        [sys.executable, "-m", "tensorflow.python.tools.saved_model_cli", *args],
        env=ENV, capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return run.stdout


def _parse_show_all(text):
    """signature -> {"inputs"/"outputs": {name: (dtype, shape)}, "method": ...}."""
    signatures, current, entry = {}, None, None
    for line in text.split("Concrete Functions:")[0].splitlines():
        line = line.strip()
        if match := re.fullmatch(r"signature_def\['(.+)'\]:", line):
            current = signatures.setdefault(match[1], {"inputs": {}, "outputs": {}})
        elif match := re.fullmatch(r"(inputs|outputs)\['(.+)'\] tensor_info:", line):
            entry = current[match[1]].setdefault(match[2], {})
        elif match := re.fullmatch(r"(dtype|shape): (.+)", line):
            entry[match[1]] = match[2]
        elif match := re.fullmatch(r"Method name is: (.*)", line):
            current["method"] = match[1]
    return {
        name: dict(
            method=value.get("method"),
            **{
                part: {k: (v["dtype"], v["shape"]) for k, v in value[part].items()}
                for part in ("inputs", "outputs")
            },
        )
        for name, value in signatures.items()
    }


def test_saved_model_cli_show_lists_the_four_signatures(exported):
    entry = exported["diagonal_bilstm"]
    shown = _parse_show_all(_saved_model_cli("show", "--dir", entry.path, "--all"))
    shown.pop("__saved_model_init_op", None)

    def cli(dtype, shape):
        return (
            types_pb2.DataType.Name(dtype.as_datatype_enum),
            "(" + ", ".join("-1" if d is None else str(d) for d in shape) + ")",
        )

    expected = {
        name: {
            "method": "tensorflow/serving/predict",
            **{
                part: {k: cli(*v) for k, v in value[part].items()}
                for part in ("inputs", "outputs")
            },
        }
        for name, value in _expected_signatures(entry.model).items()
    }
    assert shown == expected
    assert shown["complete"]["inputs"]["known_mask"] == ("DT_UINT8", "(-1, 4, 4)")
    assert shown["sample_with_temperature"]["inputs"]["condition"] == ("DT_INT32", "(-1)")


def test_saved_model_cli_run_returns_the_models_sample(exported, tmp_path):
    entry = exported["pixel_cnn_pp"]
    # TF 2.21's saved_model_cli reads --input_exprs with ast.literal_eval,
    # so the seed is a literal list (np.array(...) is refused by the CLI).
    _saved_model_cli(
        "run", "--dir", entry.path, "--tag_set", "serve",
        "--signature_def", "serving_default",
        "--input_exprs", "seed=[[1, 2]]", "--outdir", str(tmp_path / "out"),
    )
    images = np.load(tmp_path / "out" / "images.npy")
    assert images.dtype == np.uint8 and images.shape == (1, 6, 6, 1)
    np.testing.assert_array_equal(
        images, entry.model.sample(1, seed=np.array([[1, 2]], np.int32)).numpy()
    )


_STATEFUL_RANDOM = {
    "RandomUniform", "RandomUniformInt", "RandomStandardNormal", "TruncatedNormal",
    "ParameterizedTruncatedNormal", "RandomShuffle", "Multinomial", "RandomGamma",
    "RandomPoisson", "RandomPoissonV2", "RandomCrop", "StatefulUniform",
    "StatefulUniformInt", "StatefulUniformFullInt", "StatefulStandardNormal",
    "StatefulStandardNormalV2", "StatefulTruncatedNormal", "StatefulRandomBinomial",
    "NonDeterministicInts", "RngSkip", "RngReadAndSkip",
}
_PYTHON_CALLBACKS = {"PyFunc", "PyFuncStateless", "EagerPyFunc"}


@pytest.mark.parametrize("family", FAMILIES)
def test_every_op_is_core_tensorflow_stateless_and_not_xla(exported, loaded, family):
    assert loaded[family].signatures  # it loads
    with open(os.path.join(exported[family].path, "saved_model.pb"), "rb") as f:
        saved_model = saved_model_pb2.SavedModel.FromString(f.read())
    assert len(saved_model.meta_graphs) == 1
    graph = saved_model.meta_graphs[0].graph_def
    functions = {function.signature.name: function for function in graph.library.function}
    assert functions
    nodes = list(graph.node)
    for name, function in functions.items():
        must_compile = function.attr.get("_XlaMustCompile")
        assert not (must_compile is not None and must_compile.b), name
        nodes.extend(function.node_def)
    ops = set()
    for node in nodes:
        ops.add(node.op)
        if "_XlaMustCompile" in node.attr:
            assert not node.attr["_XlaMustCompile"].b, node.name
        for attr in node.attr.values():
            if attr.HasField("func"):
                assert attr.func.name in functions, (node.name, attr.func.name)
    unregistered = sorted(
        op for op in ops if op not in functions and op_def_registry.get(op) is None
    )
    assert not unregistered
    stateful_random = sorted(
        op for op in ops
        if op in _STATEFUL_RANDOM
        or ("Random" in op and not op.startswith("StatelessRandom"))
    )
    assert not stateful_random
    assert not ops & _PYTHON_CALLBACKS
    assert not sorted(op for op in ops if op.lstrip("_").startswith("Xla"))
    # The audit saw the sampler and the request checks.
    assert "StatelessRandomUniformV2" in ops and "Assert" in ops
    assert ops & {"While", "StatelessWhile"}
    # No matmul that would corrupt the heap on AVX-512 CPUs, in what loads.
    for name in SIGNATURE_NAMES:
        graph = loaded[family].signatures[name].graph
        assert not broadcasting_matmuls(graph), (name, broadcasting_matmuls(graph))


def _small_requests(model):
    base = _base_inputs(model)
    return {s: _signature_inputs(model, s, base, slice(0, 2)) for s in SIGNATURE_NAMES}


@pytest.mark.parametrize("family", FAMILIES)
def test_predict_requests_replayed_give_the_same_answers(exported, loaded, family):
    model = exported[family].model
    for signature, inputs in _small_requests(model).items():
        request = predict_pb2.PredictRequest(
            model_spec=model_pb2.ModelSpec(name=family, signature_name=signature)
        )
        for name, value in inputs.items():
            request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
        parsed = predict_pb2.PredictRequest.FromString(request.SerializeToString())
        assert parsed.model_spec.name == family
        assert sorted(parsed.inputs) == sorted(_expected_signatures(model)[signature]["inputs"])
        replayed = _call(
            loaded[family],
            parsed.model_spec.signature_name,
            {name: tf.make_ndarray(proto) for name, proto in parsed.inputs.items()},
        )
        _assert_same_outputs(replayed, _call(loaded[family], signature, inputs))
        for name, value in replayed.items():
            response = tf.make_ndarray(tf.make_tensor_proto(value))
            np.testing.assert_array_equal(response, value, err_msg=name)


def _rest_to_tensors(body, function):
    """A REST predict body to tensors, as TF Serving converts it."""
    specs = function.structured_input_signature[1]
    if "instances" in body:
        instances = body["instances"]
        assert all(sorted(instance) == sorted(specs) for instance in instances)
        return {
            name: np.array([i[name] for i in instances], spec.dtype.as_numpy_dtype)
            for name, spec in specs.items()
        }
    assert sorted(body["inputs"]) == sorted(specs)
    return {
        name: np.array(body["inputs"][name], spec.dtype.as_numpy_dtype)
        for name, spec in specs.items()
    }


@pytest.mark.parametrize("family", FAMILIES)
def test_rest_row_and_columnar_bodies_give_the_same_answers(exported, loaded, family):
    for signature, inputs in _small_requests(exported[family].model).items():
        direct = _call(loaded[family], signature, inputs)
        function = loaded[family].signatures[signature]
        row = {
            "signature_name": signature,
            "instances": [
                {name: value[i].tolist() for name, value in inputs.items()}
                for i in range(2)
            ],
        }
        columnar = {
            "signature_name": signature,
            "inputs": {name: value.tolist() for name, value in inputs.items()},
        }
        for body in (row, columnar):
            body = json.loads(json.dumps(body))
            tensors = _rest_to_tensors(body, function)
            _assert_same_outputs(_call(loaded[family], body["signature_name"], tensors), direct)
        # The answer is JSON too (row format "predictions").
        predictions = [{k: v[i].tolist() for k, v in direct.items()} for i in range(2)]
        assert json.loads(json.dumps({"predictions": predictions}))["predictions"][1] == (
            predictions[1]
        )
    # Row format with only a seed per instance, as in the README's curl.
    if exported[family].model.num_classes is None:
        body = json.loads('{"instances": [{"seed": [1, 2]}, {"seed": [3, 4]}]}')
        tensors = _rest_to_tensors(body, loaded[family].signatures["serving_default"])
        seed = np.array([[1, 2], [3, 4]], np.int32)
        _assert_same_outputs(
            _call(loaded[family], "serving_default", tensors),
            _call(loaded[family], "serving_default", {"seed": seed}),
        )


@pytest.mark.parametrize("family", FAMILIES)
def test_warmup_requests_cover_every_signature_and_run(exported, loaded, family):
    entry = exported[family]
    path = os.path.join(entry.path, WARMUP_FILE)
    assert path == os.path.join(entry.path, "assets.extra", "tf_serving_warmup_requests")
    expected = _expected_signatures(entry.model)
    seen = collections.Counter()
    for record in tf.data.TFRecordDataset(path):
        log = prediction_log_pb2.PredictionLog.FromString(record.numpy())
        assert log.WhichOneof("log_type") == "predict_log"
        request = log.predict_log.request
        assert request.model_spec.name == family
        signature = request.model_spec.signature_name
        inputs = {name: tf.make_ndarray(proto) for name, proto in request.inputs.items()}
        assert sorted(inputs) == sorted(expected[signature]["inputs"])
        outputs = _call(loaded[family], signature, inputs)
        batch = len(inputs["images" if "images" in inputs else "seed"])
        assert sorted(outputs) == sorted(expected[signature]["outputs"])
        assert all(len(value) == batch for value in outputs.values())
        seen[signature] += 1
    assert sorted(seen) == sorted(SIGNATURE_NAMES)
    assert sum(seen.values()) <= 1000  # TF Serving reads at most 1000 records


def _request(model, signature, **changes):
    inputs = _signature_inputs(model, signature, _base_inputs(model), slice(0, 2))
    inputs.update(changes)
    return inputs


def _raises(loaded_model, signature, inputs, error=Exception):
    with pytest.raises(error) as info:
        _call(loaded_model, signature, inputs)
    return str(info.value)


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize(
    "signature, change",
    [
        ("log_prob", "size"),
        ("log_prob", "channels"),
        ("complete", "size"),
        ("complete", "channels"),
        ("complete", "mask_size"),
    ],
)
def test_wrong_image_shape_is_refused_naming_the_shape(
    exported, loaded, family, signature, change
):
    model = exported[family].model
    height, width, channels = model.image_shape
    shape = {
        "size": (2, height + 2, width + 2, channels),
        "channels": (2, height, width, 3 if channels == 1 else 1),
        "mask_size": (2, height, width, channels),
    }[change]
    changes = {"images": np.zeros(shape, np.uint8)}
    if signature == "complete":
        mask_width = width + 1 if change == "mask_size" else shape[2]
        changes["known_mask"] = np.zeros((2, shape[1], mask_width), np.uint8)
    message = _raises(loaded[family], signature, _request(model, signature, **changes))
    name = "known_mask" if change == "mask_size" else "images"
    assert f"`{name}`" in message or f"{name} " in message, message
    expected = (height, width) if change == "mask_size" else (height, width, channels)
    pattern = r"(?<!\d)" + r"\D{1,3}".join(map(str, expected)) + r"(?!\d)"
    assert re.search(pattern, message), message


@pytest.mark.parametrize("signature", SIGNATURE_NAMES)
def test_label_out_of_range_or_of_another_batch_is_refused(exported, loaded, signature):
    model = exported["diagonal_bilstm"].model
    for label in ([0, 3], [-1, 0], [0]):
        message = _raises(
            loaded["diagonal_bilstm"], signature,
            _request(model, signature, condition=np.array(label, np.int32)),
            tf.errors.InvalidArgumentError,
        )
        assert "`condition`" in message
    assert "[0, 3)" in message or "one row per image" in message
    # An unconditional model's signature takes no label, a conditional one needs it.
    plain = exported["pixel_cnn_pp"].model
    with pytest.raises((TypeError, ValueError)):
        _call(loaded["pixel_cnn_pp"], signature,
              _request(plain, signature, condition=np.zeros(2, np.int32)))
    inputs = _request(model, signature)
    del inputs["condition"]
    with pytest.raises((TypeError, ValueError)):
        _call(loaded["diagonal_bilstm"], signature, inputs)


@pytest.mark.parametrize("family", FAMILIES)
def test_seed_of_three_columns_is_refused(exported, loaded, family):
    model = exported[family].model
    for signature in ("serving_default", "sample_with_temperature", "complete"):
        _raises(
            loaded[family], signature,
            _request(model, signature, seed=np.zeros((2, 3), np.int32)),
            (tf.errors.InvalidArgumentError, ValueError, TypeError),
        )


@pytest.mark.parametrize("family", FAMILIES)
def test_batch_mismatch_is_refused_naming_the_input(exported, loaded, family):
    model = exported[family].model
    for signature, name, value in [
        ("complete", "known_mask", np.zeros((1, *model.image_shape[:2]), np.uint8)),
        ("complete", "seed", np.zeros((3, 2), np.int32)),
        ("sample_with_temperature", "temperature", np.ones(3, np.float32)),
    ]:
        message = _raises(
            loaded[family], signature, _request(model, signature, **{name: value}),
            tf.errors.InvalidArgumentError,
        )
        assert f"`{name}`" in message


@pytest.mark.parametrize("family", FAMILIES)
def test_image_values_above_the_top_level_are_refused(exported, loaded, family):
    model = exported[family].model
    images = _base_inputs(model)["images"][:2].copy()
    images[1, -1, -1, -1] = model.num_levels  # one too many
    for signature in ("log_prob", "complete"):
        message = _raises(
            loaded[family], signature, _request(model, signature, images=images),
            tf.errors.InvalidArgumentError,
        )
        assert "`images`" in message and f"[0, {model.num_levels - 1}]" in message
    top = images.copy()
    top[1, -1, -1, -1] = model.num_levels - 1
    outputs = _call(loaded[family], "log_prob", _request(model, "log_prob", images=top))
    assert np.isfinite(outputs["log_prob_nats"]).all()


@pytest.mark.parametrize("temperature", [0.0, -1.0, float("nan")])
def test_non_positive_temperature_is_refused(exported, loaded, temperature):
    model = exported["pixel_cnn_pp"].model
    message = _raises(
        loaded["pixel_cnn_pp"], "sample_with_temperature",
        _request(model, "sample_with_temperature",
                 temperature=np.array([1.0, temperature], np.float32)),
        tf.errors.InvalidArgumentError,
    )
    assert "`temperature` must be positive" in message


# --- export_model: version folders -------------------------------------------


def _files(folder):
    """Relative path -> bytes of every file under `folder`."""
    result = {}
    for directory, _, names in os.walk(folder):
        for name in names:
            path = os.path.join(directory, name)
            with open(path, "rb") as f:
                result[os.path.relpath(path, folder)] = f.read()
    return result


def _no_temporary_folders(model_dir):
    return not [name for name in os.listdir(model_dir) if name.startswith(".tmp")]


def test_existing_version_is_never_overwritten(exported, tmp_path):
    first = export_model(exported["pixel_cnn"].model, str(tmp_path), "m", version=1)
    assert first == str(tmp_path / "m" / "1")
    before = _files(first)
    assert "saved_model.pb" in before and WARMUP_FILE in before
    for model in (exported["pixel_cnn"].model, exported["pixel_cnn_pp"].model):
        with pytest.raises(FileExistsError, match="never overwrites"):
            export_model(model, str(tmp_path), "m", version=1)
    assert _files(first) == before
    (tmp_path / "m" / "4").mkdir()
    with pytest.raises(FileExistsError):
        export_model(exported["pixel_cnn"].model, str(tmp_path), "m", version=4)
    assert sorted(os.listdir(tmp_path / "m")) == ["1", "4"]


def test_next_version_is_one_more_than_the_newest(exported, tmp_path):
    model_dir = tmp_path / "m"
    for name in ("1", "7", "3", "notes", "v9"):
        (model_dir / name).mkdir(parents=True)
    path = export_model(exported["pixel_cnn"].model, str(tmp_path), "m", warmup=False)
    assert path == str(model_dir / "8")
    assert os.path.isfile(model_dir / "8" / "saved_model.pb")
    assert not os.path.exists(model_dir / "8" / WARMUP_FILE)
    assert sorted(os.listdir(model_dir)) == ["1", "3", "7", "8", "notes", "v9"]
    assert _no_temporary_folders(model_dir)


def test_next_version_ignores_non_ascii_digit_folders(exported, tmp_path):
    for name in ("1", "²"):
        (tmp_path / "m" / name).mkdir(parents=True)
    path = export_model(exported["pixel_cnn"].model, str(tmp_path), "m", warmup=False)
    assert path == str(tmp_path / "m" / "2")


@pytest.mark.parametrize("when", ["before_writing", "after_writing"])
def test_failed_export_leaves_no_version_and_no_temporary_folder(
    exported, tmp_path, monkeypatch, when
):
    # ExportArchive.__new__ returns the backend's archive class (not a
    # subclass of ExportArchive), so its write_out is the one to replace.
    archive_class = type(keras.export.ExportArchive())
    original = archive_class.write_out

    def write_out(self, filepath, *args, **kwargs):
        if when == "after_writing":
            original(self, filepath, *args, **kwargs)
            assert os.path.isfile(os.path.join(filepath, "saved_model.pb"))
        raise RuntimeError("disk full")

    monkeypatch.setattr(archive_class, "write_out", write_out)
    (tmp_path / "m" / "2").mkdir(parents=True)
    for version in (None, 5):
        with pytest.raises(RuntimeError, match="disk full"):
            export_model(exported["pixel_cnn"].model, str(tmp_path), "m", version=version)
        assert os.listdir(tmp_path / "m") == ["2"]


@pytest.mark.parametrize(
    "changes",
    [
        {"model_name": "a/b"},
        {"model_name": ""},
        {"model_name": ".hidden"},
        {"model_name": ".."},
        {"version": 0},
        {"version": -1},
        {"version": True},
        {"version": 2.0},
        {"version": "3"},
    ],
)
def test_bad_model_name_or_version_is_refused(exported, tmp_path, changes):
    arguments = {"model_name": "m", "version": None, **changes}
    with pytest.raises(ValueError, match=next(iter(changes))):
        export_model(exported["pixel_cnn"].model, str(tmp_path / "models"), **arguments)
    assert not os.path.exists(tmp_path / "models")


# --- main.py export -------------------------------------------------------------


def _train_config(workdir):
    return types.SimpleNamespace(
        workdir=str(workdir), model="pixel_cnn_pp", dataset="digits", data_dir=None,
        num_levels=None, preset="tiny", num_filters=8, num_resnet=1,
        num_hierarchies=None, num_logistic_mix=2, dropout=None, num_layers=None,
        output_filters=None, class_conditional=False, epochs=1, batch_size=128,
        learning_rate=2e-3, lr_decay=0.999995, seed=0, resume=False,
        checkpoint=None, num_samples=2, temperature=1.0, sampling_method="cached",
        output=None,
    )


def _export_config(workdir, **changes):
    values = dict(
        workdir=str(workdir), export_dir=None, model_name=None, version=None,
        checkpoint=None,
    )
    values.update(changes)
    return types.SimpleNamespace(**values)


@pytest.fixture(scope="module")
def trained_workdir(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("run")
    commands.train(_train_config(workdir))
    return workdir


@pytest.mark.slow
def test_export_command_writes_version_1_then_2_of_the_checkpoint(trained_workdir, tmp_path):
    export_dir = tmp_path / "models"
    config = _export_config(trained_workdir, export_dir=str(export_dir))
    first = export_command.export(config)
    assert first == str(export_dir / "pixel_cnn_pp" / "1")
    assert os.listdir(export_dir) == ["pixel_cnn_pp"]
    assert os.path.isfile(os.path.join(first, "saved_model.pb"))
    assert os.path.isdir(os.path.join(first, "variables"))
    assert os.listdir(os.path.join(first, "variables"))
    assert os.path.isfile(os.path.join(first, "assets.extra", "tf_serving_warmup_requests"))
    # The second export names the checkpoint explicitly.
    checkpoint = training.latest_checkpoint(str(trained_workdir))[1]
    second = export_command.export(
        _export_config(trained_workdir, export_dir=str(export_dir), checkpoint=checkpoint)
    )
    assert second == str(export_dir / "pixel_cnn_pp" / "2")
    assert sorted(os.listdir(export_dir / "pixel_cnn_pp")) == ["1", "2"]
    with pytest.raises(FileExistsError, match="never overwrites"):
        export_command.export(
            _export_config(trained_workdir, export_dir=str(export_dir), version=1)
        )
    with pytest.raises(ValueError, match="model_name"):
        export_command.export(
            _export_config(trained_workdir, export_dir=str(export_dir), model_name="a/b")
        )
    assert sorted(os.listdir(export_dir)) == ["pixel_cnn_pp"]

    # The export holds the trained weights of the checkpoint.
    model = training.load_checkpoint(checkpoint)
    images, _ = data.images_and_labels(data.load("digits").test, limit=4)
    served = tf.saved_model.load(second).signatures["log_prob"](
        images=tf.constant(images.astype(np.uint8))
    )
    np.testing.assert_allclose(
        served["log_prob_nats"].numpy(), model.log_prob(images).numpy(), rtol=1e-5, atol=1e-5
    )


@pytest.mark.slow
def test_main_py_export_runs_and_never_overwrites(trained_workdir, tmp_path):
    command = [sys.executable, "main.py", "export", f"--workdir={trained_workdir}",
               f"--export_dir={tmp_path}"]
    run = subprocess.run(command, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "version 1" in run.stdout
    assert os.path.isfile(tmp_path / "pixel_cnn_pp" / "1" / "saved_model.pb")
    before = _files(tmp_path / "pixel_cnn_pp" / "1")
    again = subprocess.run(
        command + ["--version=1"], cwd=ROOT, env=ENV, capture_output=True, text=True,
        timeout=300,
    )
    assert again.returncode != 0
    assert "never overwrites" in again.stderr
    assert os.listdir(tmp_path / "pixel_cnn_pp") == ["1"]
    assert _files(tmp_path / "pixel_cnn_pp" / "1") == before


@pytest.mark.slow
def test_export_serves_the_ema_weights_and_keeps_the_model(tmp_path):
    from pixel_keras.models import PixelCNNPlusPlus

    model = PixelCNNPlusPlus.from_preset(
        "tiny", image_shape=(4, 4, 1), num_filters=8, num_logistic_mix=2
    )
    model.compile(optimizer=keras.optimizers.Adam(1e-2, use_ema=True, ema_momentum=0.5))
    images = np.random.default_rng(0).integers(0, 17, size=(8, 4, 4, 1)).astype("float32")
    model.fit(images, batch_size=4, epochs=1, verbose=0)
    # Move the weights away from their averages, as after more steps.
    raw = [variable.numpy() + 0.05 for variable in model.trainable_variables]
    for variable, value in zip(model.trainable_variables, raw):
        variable.assign(value)
    raw_log_prob = model.log_prob(images).numpy()

    path = export_model(model, str(tmp_path), "ema", warmup=False)

    for variable, value in zip(model.trainable_variables, raw):
        np.testing.assert_array_equal(variable.numpy(), value)  # given back
    averages = [
        model.optimizer._model_variables_moving_average[
            model.optimizer._get_variable_index(variable)
        ].numpy()
        for variable in model.trainable_variables
    ]
    for variable, value in zip(model.trainable_variables, averages):
        variable.assign(value)
    ema_log_prob = model.log_prob(images).numpy()
    assert not np.allclose(ema_log_prob, raw_log_prob)
    served = tf.saved_model.load(path).signatures["log_prob"](
        images=tf.constant(images, tf.uint8)
    )["log_prob_nats"].numpy()
    np.testing.assert_allclose(served, ema_log_prob, rtol=1e-5)


def test_a_model_conditioned_on_values_with_many_levels_exports(tmp_path):
    # A prior over discrete codes: `condition` float input, int32 images.
    model = PixelCNN.from_preset(
        "tiny",
        image_shape=(3, 3, 1),
        num_levels=300,
        conditional_shape=(2,),
        input_encoding="embedding",
        num_filters=4,
        output_filters=8,
    )
    path = export_model(model, str(tmp_path), "codes")
    loaded = tf.saved_model.load(path)
    seed = np.array([[0, 1], [0, 2]], np.int32)
    condition = np.array([[0.5, -1.0], [2.0, 0.0]], np.float32)
    images = loaded.signatures["serving_default"](
        seed=tf.constant(seed), condition=tf.constant(condition)
    )["images"]
    assert images.dtype == tf.int32
    np.testing.assert_array_equal(images, model.sample(2, seed=seed, condition=condition))
    nats = loaded.signatures["log_prob"](images=images, condition=tf.constant(condition))
    np.testing.assert_allclose(
        nats["log_prob_nats"], model.log_prob(images, condition=condition), rtol=1e-5
    )
    with pytest.raises(tf.errors.InvalidArgumentError, match="`condition` must have shape"):
        loaded.signatures["log_prob"](images=images, condition=tf.zeros([2, 3]))


def test_legacy_label_input_name_keeps_clients_of_earlier_exports_working(tmp_path):
    model = _build("diagonal_bilstm")
    path = export_model(model, str(tmp_path), "legacy", condition_name="label")
    loaded_model = tf.saved_model.load(path)
    for name in SIGNATURE_NAMES:
        inputs = loaded_model.signatures[name].structured_input_signature[1]
        assert "label" in inputs and "condition" not in inputs, (name, sorted(inputs))
    seed = np.array([[1, 2], [3, 4]], np.int32)
    label = np.array([2, 0], np.int32)
    images = _call(loaded_model, "serving_default", {"seed": seed, "label": label})["images"]
    np.testing.assert_array_equal(images, model.sample(2, seed=seed, condition=label))
    message = _raises(
        loaded_model, "serving_default", {"seed": seed, "label": np.array([0, 3], np.int32)},
        tf.errors.InvalidArgumentError,
    )
    assert "`label` labels must be in [0, 3)" in message
