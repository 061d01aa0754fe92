"""The four serving signatures of an export, loaded in a process that has
neither pixel_keras nor keras, against the in-memory model; their specs,
`saved_model_cli`, an audit of every op, values conditions and the legacy
`label` input name."""

import os
import re
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.framework import types_pb2
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow.python.framework import op_def_registry

from pixel_keras.models import PixelCNN
from pixel_keras.serving import SIGNATURE_NAMES
from pixel_keras.serving import export_model
from tests import helpers


@pytest.mark.parametrize("family", helpers.EXPORT_FAMILIES)
def test_signatures_loaded_without_pixel_keras_equal_the_model(exported, served, family):
    model = exported[family].model
    outputs = served[family].outputs
    base = helpers.base_inputs(model)
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


@pytest.mark.parametrize("family", helpers.EXPORT_FAMILIES)
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


def _specs(specs):
    return {name: (spec.dtype, spec.shape.as_list()) for name, spec in specs.items()}


@pytest.mark.parametrize("family", helpers.EXPORT_FAMILIES)
def test_loaded_signature_specs(exported, loaded, family):
    expected = helpers.expected_signatures(exported[family].model)
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
        env=helpers.subprocess_env(), capture_output=True, text=True, timeout=300,
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


@pytest.mark.slow
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
        for name, value in helpers.expected_signatures(entry.model).items()
    }
    assert shown == expected
    assert shown["complete"]["inputs"]["known_mask"] == ("DT_UINT8", "(-1, 4, 4)")
    assert shown["sample_with_temperature"]["inputs"]["condition"] == ("DT_INT32", "(-1)")


@pytest.mark.slow
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
    assert images.dtype == np.uint8 and images.shape == (1, 4, 4, 1)
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


@pytest.mark.parametrize("family", helpers.EXPORT_FAMILIES)
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
        assert not helpers.broadcasting_matmuls(graph), (name, helpers.broadcasting_matmuls(graph))


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
    model = helpers.export_model_of("diagonal_bilstm")
    path = export_model(model, str(tmp_path), "legacy", condition_name="label")
    loaded_model = tf.saved_model.load(path)
    for name in SIGNATURE_NAMES:
        inputs = loaded_model.signatures[name].structured_input_signature[1]
        assert "label" in inputs and "condition" not in inputs, (name, sorted(inputs))
    seed = np.array([[1, 2], [3, 4]], np.int32)
    label = np.array([2, 0], np.int32)
    images = helpers.call_signature(
        loaded_model, "serving_default", {"seed": seed, "label": label}
    )["images"]
    np.testing.assert_array_equal(images, model.sample(2, seed=seed, condition=label))
    message = helpers.call_refused(
        loaded_model, "serving_default", {"seed": seed, "label": np.array([0, 3], np.int32)},
        tf.errors.InvalidArgumentError,
    )
    assert "`label` labels must be in [0, 3)" in message
