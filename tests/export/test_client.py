"""The TF Serving client (export/client.py): its requests sent over real REST
and gRPC connections to stand-ins of TF Serving's front ends on the loaded
exports (tests/helpers/tf_serving.py) give what the signatures give, bad
requests come back refused, and the client needs no pixel_keras."""

import json
import subprocess
import sys
import urllib.error

import grpc
import numpy as np
import pytest

from export import client
from tests import helpers


def _requests(model):
    """Every signature's request from the client, and its inputs."""
    base = helpers.base_inputs(model)
    condition = base.get("condition")
    return {
        "serving_default": client.sample_request(base["seed"], condition=condition),
        "sample_with_temperature": client.sample_request(
            base["seed"], temperature=base["temperature"], condition=condition
        ),
        "log_prob": client.log_prob_request(base["images"], condition),
        "complete": client.complete_request(
            base["images"], base["known_mask"], base["seed"], condition
        ),
    }


@pytest.mark.parametrize("family", helpers.EXPORT_FAMILIES)
def test_rest_and_grpc_answers_are_the_signatures_answers(exported, loaded, family):
    model = exported[family].model
    with helpers.rest_server(loaded) as rest, helpers.grpc_server(loaded) as target:
        for signature, request in _requests(model).items():
            assert request.signature_name == signature
            direct = helpers.call_signature(loaded[family], signature, request.inputs)
            for columnar in (False, True):
                helpers.assert_same_outputs(
                    client.rest_predict(rest, family, request, columnar=columnar), direct
                )
            helpers.assert_same_outputs(client.grpc_predict(target, family, request), direct)


def test_refused_requests_come_back_naming_the_input(exported, loaded):
    model = exported["diagonal_bilstm"].model
    seed = helpers.base_inputs(model)["seed"][:2]
    request = client.sample_request(seed, condition=[0, 3])  # 3 classes: 3 is out of range
    with helpers.rest_server(loaded) as rest, helpers.grpc_server(loaded) as target:
        with pytest.raises(urllib.error.HTTPError) as info:
            client.rest_predict(rest, "diagonal_bilstm", request)
        assert info.value.code == 400
        assert "`condition`" in json.loads(info.value.read())["error"]
        with pytest.raises(grpc.RpcError) as info:
            client.grpc_predict(target, "diagonal_bilstm", request)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "`condition`" in info.value.details()


def test_requests_carry_the_signatures_dtypes():
    request = client.sample_request([[1, 2], [3, 4]], temperature=0.5, condition=[1, 0])
    assert request.signature_name == "sample_with_temperature"
    assert {k: (v.dtype, v.shape) for k, v in request.inputs.items()} == {
        "seed": (np.int32, (2, 2)),
        "temperature": (np.float32, (2,)),
        "condition": (np.int32, (2,)),
    }
    values = client.sample_request([[1, 2]], condition=[[0.5, 1.5]], condition_name="label")
    assert values.signature_name == "serving_default"
    assert values.inputs["label"].dtype == np.float32 and "condition" not in values.inputs
    images = np.full((1, 2, 2, 1), 7)
    request = client.complete_request(images, [[[True, False], [255, 0]]], [[1, 2]])
    assert request.inputs["images"].dtype == np.uint8
    np.testing.assert_array_equal(request.inputs["known_mask"], [[[1, 0], [1, 0]]])
    assert request.inputs["known_mask"].dtype == np.uint8
    wide = client.log_prob_request(np.full((1, 2, 2, 1), 1000, np.int32))
    assert wide.inputs["images"].dtype == np.int32


@pytest.mark.parametrize(
    "build, name",
    [
        (lambda: client.sample_request([1, 2]), "seed"),
        (lambda: client.sample_request([[1, 2, 3]]), "seed"),
        (lambda: client.log_prob_request(np.zeros((2, 2, 1), np.uint8)), "images"),
        (lambda: client.log_prob_request(np.full((1, 2, 2, 1), 256)), "images"),
        (lambda: client.log_prob_request(np.full((1, 2, 2, 1), 0.5)), "images"),
        (lambda: client.complete_request(np.zeros((1, 2, 2, 1), int), np.ones((1, 2, 3)), [[1, 2]]),
         "known_mask"),
    ],
)
def test_bad_requests_are_refused_before_sending(build, name):
    with pytest.raises(ValueError, match=f"`{name}`"):
        build()


def test_rest_answer_without_predictions_is_refused_with_the_servers_error():
    request = client.sample_request([[1, 2]])
    with pytest.raises(ValueError, match="no such signature"):
        client.rest_outputs(request, {"error": "no such signature"})
    assert client.rest_url("http://host:8501/", "m", 3) == (
        "http://host:8501/v1/models/m/versions/3:predict"
    )


def test_client_imports_no_pixel_keras_and_no_tensorflow_for_rest():
    code = (
        "import sys\n"
        "from export import client\n"
        "body = client.rest_body(client.sample_request([[1, 2]]))\n"
        "loaded = sorted(m for m in ('pixel_keras', 'keras', 'tensorflow') if m in sys.modules)\n"
        "assert not loaded, loaded\n"
        "print(body)\n"
    )
    run = subprocess.run(
        [sys.executable, "-W", "error::DeprecationWarning", "-c", code],
        cwd=helpers.ROOT, env=helpers.subprocess_env(PYTHONPATH=helpers.ROOT),
        capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert "'instances': [{'seed': [1, 2]}]" in run.stdout
