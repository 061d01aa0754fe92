"""Stand-ins for TF Serving's REST and gRPC front ends on loaded exports.

There is no TF Serving binary here: a request the client sends goes over a
real HTTP or gRPC connection to a server in this process, is converted to
tensors as TF Serving converts it, and is answered by the loaded export's
signature, in TF Serving's answer format.
"""

import concurrent.futures
import contextlib
import http.server
import json
import re
import threading

import grpc
import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.apis import prediction_service_pb2_grpc

_PREDICT_PATH = re.compile(r"^/v1/models/([^/:]+)(?:/versions/(\d+))?:predict$")


def rest_to_tensors(body, function):
    """A REST predict body to arrays, as TF Serving converts it."""
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


def rest_answer(body, outputs):
    """TF Serving's REST answer: row format `predictions` for `instances`,
    `outputs` for columnar `inputs`; one output comes without its name."""
    single = len(outputs) == 1
    if "instances" in body:
        batch = len(next(iter(outputs.values())))
        if single:
            (value,) = outputs.values()
            return {"predictions": value.tolist()}
        return {
            "predictions": [
                {name: value[i].tolist() for name, value in outputs.items()}
                for i in range(batch)
            ]
        }
    if single:
        (value,) = outputs.values()
        return {"outputs": value.tolist()}
    return {"outputs": {name: value.tolist() for name, value in outputs.items()}}


def _call(loaded, model_name, signature_name, arrays):
    function = loaded[model_name].signatures[signature_name or "serving_default"]
    outputs = function(**{name: tf.constant(value) for name, value in arrays.items()})
    return {name: value.numpy() for name, value in outputs.items()}


class _RestHandler(http.server.BaseHTTPRequestHandler):
    loaded = None  # model name -> loaded SavedModel, set per server

    def do_POST(self):
        match = _PREDICT_PATH.match(self.path)
        if not match or match.group(1) not in self.loaded:
            return self._answer(404, {"error": f"no model at {self.path}"})
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        signature = body.get("signature_name", "serving_default")
        try:
            function = self.loaded[match.group(1)].signatures[signature]
            outputs = _call(
                self.loaded, match.group(1), signature, rest_to_tensors(body, function)
            )
        except (tf.errors.InvalidArgumentError, KeyError, ValueError, TypeError) as error:
            return self._answer(400, {"error": str(error)})
        self._answer(200, rest_answer(body, outputs))

    def _answer(self, status, answer):
        data = json.dumps(answer).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def rest_server(loaded):
    """A REST server for `loaded` (model name -> loaded SavedModel) on a free
    local port; yields its address, `http://127.0.0.1:<port>`."""
    handler = type("Handler", (_RestHandler,), {"loaded": loaded})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


class _PredictionService(prediction_service_pb2_grpc.PredictionServiceServicer):
    def __init__(self, loaded):
        self.loaded = loaded

    def Predict(self, request, context):
        name = request.model_spec.name
        if name not in self.loaded:
            context.abort(grpc.StatusCode.NOT_FOUND, f"no model {name!r}")
        arrays = {key: tf.make_ndarray(proto) for key, proto in request.inputs.items()}
        try:
            outputs = _call(self.loaded, name, request.model_spec.signature_name, arrays)
        except (tf.errors.InvalidArgumentError, KeyError, ValueError, TypeError) as error:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))
        response = predict_pb2.PredictResponse()
        response.model_spec.CopyFrom(request.model_spec)
        for key, value in outputs.items():
            response.outputs[key].CopyFrom(tf.make_tensor_proto(value))
        return response


@contextlib.contextmanager
def grpc_server(loaded):
    """A gRPC PredictionService for `loaded` on a free local port; yields its
    address, `127.0.0.1:<port>`."""
    server = grpc.server(concurrent.futures.ThreadPoolExecutor(max_workers=2))
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
        _PredictionService(loaded), server
    )
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.stop(grace=None)
