"""A TF Serving client for pixel_keras exports: the requests of the sample,
log_prob and complete signatures, over REST (JSON) or gRPC.

A request is built once, independent of the transport, and sent either way:

    from export import client

    request = client.sample_request(seed=[[1, 2], [3, 4]])        # two images
    images = client.rest_predict("http://localhost:8501", "pixel_cnn_pp", request)["images"]
    request = client.log_prob_request(images)
    scores = client.grpc_predict("localhost:8500", "pixel_cnn_pp", request)["bits_per_dim"]

REST needs only the standard library and NumPy; gRPC needs
`tensorflow-serving-api` (and the `tensorflow` and `grpcio` it pulls in). The
client imports no pixel_keras, so it runs where the model is served from, not
trained. The signatures it calls are those of `pixel_keras.serving.signatures`:

| request | signature | inputs | outputs |
|---|---|---|---|
| `sample_request` | `serving_default` | `seed` | `images` |
| `sample_request(temperature=...)` | `sample_with_temperature` | `seed`, `temperature` | `images` |
| `log_prob_request` | `log_prob` | `images` | `log_prob_nats`, `bits_per_dim` |
| `complete_request` | `complete` | `images`, `known_mask`, `seed` | `images` |

and `condition` in each for a conditional model (`label` for exports before
pixel_keras 0.2: pass `condition_name="label"`).
"""

import collections
import json
import urllib.request

import numpy as np

# The name of a conditional model's condition input in every signature.
CONDITION = "condition"

# Each signature's outputs, in the order TF Serving's REST answer lists them
# when it leaves out their names (a signature of one output).
OUTPUTS = {
    "serving_default": ("images",),
    "sample_with_temperature": ("images",),
    "log_prob": ("log_prob_nats", "bits_per_dim"),
    "complete": ("images",),
}

Request = collections.namedtuple("Request", ["signature_name", "inputs"])
Request.__doc__ = """One signature's request: its name and `{input name: np.ndarray}`,
every input with one row per image, in the dtype the signature takes."""


def _seed(seed):
    seed = np.asarray(seed)
    if seed.ndim != 2 or seed.shape[1] != 2 or seed.dtype.kind not in "iu":
        raise ValueError(
            "Expected `seed` to be integers of shape [batch, 2], one stateless "
            f"seed per image. Received: shape {seed.shape}, dtype {seed.dtype}"
        )
    return seed.astype(np.int32)


def _images(images):
    # uint8, or int32 for a model of more than 256 levels (pass int32 then).
    images = np.asarray(images)
    if images.ndim != 4 or images.dtype.kind not in "iu":
        raise ValueError(
            "Expected `images` to be integers of shape [batch, height, width, "
            f"channels]. Received: shape {images.shape}, dtype {images.dtype}"
        )
    if images.dtype == np.int32:
        return images
    if images.size and (images.min() < 0 or images.max() > 255):
        raise ValueError(
            "Expected `images` in [0, 255] (pass int32 images for a model of "
            f"more than 256 levels). Received values in [{images.min()}, {images.max()}]"
        )
    return images.astype(np.uint8)


def _with_condition(inputs, condition, condition_name):
    if condition is not None:
        condition = np.asarray(condition)
        # Class labels are int32, condition values float32.
        dtype = np.int32 if condition.dtype.kind in "iub" else np.float32
        inputs[condition_name] = condition.astype(dtype)
    return inputs


def sample_request(seed, temperature=None, condition=None, condition_name=CONDITION):
    """A request for one image per row of `seed`.

    Args:
        seed: integers `[batch, 2]`; image `i` depends only on `seed[i]` (and
            `condition[i]`).
        temperature: None (`serving_default`), or one positive float per
            image or one for all (`sample_with_temperature`).
        condition: a conditional model's class labels `[batch]` or
            condition values `[batch, ...]`; None for an unconditional one.
        condition_name: `"condition"`, or `"label"` for exports before 0.2.

    Returns:
        A `Request`.

    Raises:
        ValueError: for a `seed` not of shape `[batch, 2]`.
    """
    seed = _seed(seed)
    inputs = {"seed": seed}
    signature = "serving_default"
    if temperature is not None:
        signature = "sample_with_temperature"
        inputs["temperature"] = np.broadcast_to(
            np.asarray(temperature, np.float32), seed.shape[:1]
        ).copy()
    return Request(signature, _with_condition(inputs, condition, condition_name))


def log_prob_request(images, condition=None, condition_name=CONDITION):
    """A request for the log-likelihood of `images` (nats, and bits per dimension).

    Args:
        images: integers `[batch, height, width, channels]` in
            `[0, num_levels - 1]`; uint8 is sent unless they are int32.
        condition, condition_name: as for `sample_request`.

    Returns:
        A `Request`.

    Raises:
        ValueError: for `images` not of rank 4 or not integers.
    """
    return Request(
        "log_prob", _with_condition({"images": _images(images)}, condition, condition_name)
    )


def complete_request(images, known_mask, seed, condition=None, condition_name=CONDITION):
    """A request to draw the unknown pixels of `images`, keeping the known ones.

    Args:
        images: as for `log_prob_request`; the unknown pixels' values are
            ignored.
        known_mask: `[batch, height, width]`, non-zero (or True) where a pixel
            is known.
        seed, condition, condition_name: as for `sample_request`.

    Returns:
        A `Request`.

    Raises:
        ValueError: for `images` or `seed` of the wrong shape, or a
            `known_mask` of another shape than the images' first three
            dimensions.
    """
    images = _images(images)
    known_mask = np.asarray(known_mask)
    if known_mask.shape != images.shape[:3]:
        raise ValueError(
            "Expected `known_mask` of shape [batch, height, width] = "
            f"{list(images.shape[:3])}, like `images`. Received: {list(known_mask.shape)}"
        )
    inputs = {
        "images": images,
        "known_mask": (known_mask != 0).astype(np.uint8),
        "seed": _seed(seed),
    }
    return Request("complete", _with_condition(inputs, condition, condition_name))


# --- REST ---------------------------------------------------------------------


def rest_body(request, columnar=False):
    """The JSON body of TF Serving's REST `:predict` for `request`.

    Args:
        request: a `Request`.
        columnar: False for the row format (`"instances"`, one object per
            image), True for the columnar one (`"inputs"`, one list per input).

    Returns:
        A dict of lists and numbers, for `json.dumps`.
    """
    inputs = request.inputs
    if columnar:
        return {
            "signature_name": request.signature_name,
            "inputs": {name: value.tolist() for name, value in inputs.items()},
        }
    batch = len(next(iter(inputs.values())))
    return {
        "signature_name": request.signature_name,
        "instances": [
            {name: value[i].tolist() for name, value in inputs.items()} for i in range(batch)
        ],
    }


def rest_outputs(request, answer, images_dtype=np.uint8):
    """The outputs in TF Serving's REST answer to `request`, as arrays.

    Args:
        request: the `Request` answered.
        answer: the decoded JSON answer: `{"predictions": [...]}` (row format)
            or `{"outputs": ...}` (columnar); a signature of one output comes
            without its name.
        images_dtype: the dtype of returned `images` (int32 for a model of
            more than 256 levels).

    Returns:
        dict output name -> np.ndarray, one row per image.

    Raises:
        ValueError: for an answer with neither key (TF Serving's `"error"`
            is in the message).
    """
    names = OUTPUTS[request.signature_name]
    if "predictions" in answer:
        rows = answer["predictions"]
        if rows and isinstance(rows[0], dict):
            columns = {name: [row[name] for row in rows] for name in names}
        else:
            columns = {names[0]: rows}
    elif "outputs" in answer:
        outputs = answer["outputs"]
        columns = outputs if isinstance(outputs, dict) else {names[0]: outputs}
    else:
        raise ValueError(
            f"Expected a TF Serving answer with 'predictions' or 'outputs'. Received: {answer!r}"
        )
    dtypes = {"images": images_dtype}
    return {name: np.asarray(columns[name], dtypes.get(name, np.float32)) for name in names}


def rest_url(server, model_name, version=None):
    """`<server>/v1/models/<model_name>[/versions/<version>]:predict`."""
    path = f"/v1/models/{model_name}"
    if version is not None:
        path += f"/versions/{int(version)}"
    return server.rstrip("/") + path + ":predict"


def rest_predict(
    server, model_name, request, version=None, columnar=False, timeout=60.0,
    images_dtype=np.uint8,
):
    """Sends `request` to TF Serving's REST API; its outputs.

    Args:
        server: the REST address, e.g. `"http://localhost:8501"`.
        model_name: the served model's name (`MODEL_NAME` of the container).
        request: a `Request`.
        version: a model version, or None for the newest served.
        columnar: whether to send the columnar format (see `rest_body`).
        timeout: seconds to wait for the answer.
        images_dtype: see `rest_outputs`.

    Returns:
        dict output name -> np.ndarray.

    Raises:
        urllib.error.HTTPError: for a refused request (TF Serving's message
            is in the error's body).
    """
    data = json.dumps(rest_body(request, columnar)).encode("utf-8")
    http_request = urllib.request.Request(
        rest_url(server, model_name, version), data=data,
        headers={"Content-Type": "application/json"}, method="POST",
    )
    with urllib.request.urlopen(http_request, timeout=timeout) as response:
        answer = json.loads(response.read().decode("utf-8"))
    return rest_outputs(request, answer, images_dtype)


# --- gRPC ---------------------------------------------------------------------


def _grpc_modules():
    """grpc, tensorflow, predict_pb2 and prediction_service_pb2_grpc."""
    # gRPC only, and heavy (TensorFlow): a REST client needs none of it.
    import grpc
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2
    from tensorflow_serving.apis import prediction_service_pb2_grpc

    return grpc, tf, predict_pb2, prediction_service_pb2_grpc


def predict_request(request, model_name, version=None):
    """`request` as TF Serving's gRPC `PredictRequest` proto.

    Args:
        request: a `Request`.
        model_name: the served model's name.
        version: a model version, or None for the newest served.

    Returns:
        A `tensorflow_serving.apis.predict_pb2.PredictRequest`.
    """
    _, tf, predict_pb2, _ = _grpc_modules()
    proto = predict_pb2.PredictRequest()
    proto.model_spec.name = model_name
    proto.model_spec.signature_name = request.signature_name
    if version is not None:
        proto.model_spec.version.value = int(version)
    for name, value in request.inputs.items():
        proto.inputs[name].CopyFrom(tf.make_tensor_proto(value))
    return proto


def predict_outputs(response):
    """The outputs of a gRPC `PredictResponse`, as arrays (dict name -> np.ndarray)."""
    _, tf, _, _ = _grpc_modules()
    return {name: tf.make_ndarray(proto) for name, proto in response.outputs.items()}


def grpc_predict(target, model_name, request, version=None, timeout=60.0):
    """Sends `request` to TF Serving's gRPC API; its outputs.

    Args:
        target: the gRPC address, e.g. `"localhost:8500"` (an insecure
            channel).
        model_name, version: as for `predict_request`.
        request: a `Request`.
        timeout: seconds to wait for the answer.

    Returns:
        dict output name -> np.ndarray.

    Raises:
        grpc.RpcError: for a refused request (`INVALID_ARGUMENT` with TF
            Serving's message) or an unreachable server.
    """
    grpc, _, _, prediction_service_pb2_grpc = _grpc_modules()
    with grpc.insecure_channel(target) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        response = stub.Predict(predict_request(request, model_name, version), timeout)
    return predict_outputs(response)
