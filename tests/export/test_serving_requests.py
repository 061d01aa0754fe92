"""TF Serving requests against a loaded export: the client's (export/client.py)
gRPC PredictRequest protos and REST row and columnar JSON, the warm-up
records, and every bad request refused naming its input."""

import collections
import json
import os
import re

import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.apis import prediction_log_pb2

from export import client
from pixel_keras.serving import SIGNATURE_NAMES
from pixel_keras.serving import WARMUP_FILE
from tests import helpers


def _small_requests(model):
    base = helpers.base_inputs(model)
    return {s: helpers.signature_inputs(model, s, base, slice(0, 2)) for s in SIGNATURE_NAMES}


@pytest.mark.parametrize("family", helpers.EXPORT_FAMILIES)
def test_predict_requests_replayed_give_the_same_answers(exported, loaded, family):
    model = exported[family].model
    for signature, inputs in _small_requests(model).items():
        request = helpers.client_request(signature, inputs)
        assert request.signature_name == signature
        proto = client.predict_request(request, family, version=1)
        parsed = predict_pb2.PredictRequest.FromString(proto.SerializeToString())
        assert parsed.model_spec.name == family and parsed.model_spec.version.value == 1
        expected = helpers.expected_signatures(model)[signature]["inputs"]
        assert sorted(parsed.inputs) == sorted(expected)
        for name, (dtype, _) in expected.items():
            assert parsed.inputs[name].dtype == dtype.as_datatype_enum, name
        replayed = helpers.call_signature(
            loaded[family],
            parsed.model_spec.signature_name,
            {name: tf.make_ndarray(proto) for name, proto in parsed.inputs.items()},
        )
        direct = helpers.call_signature(loaded[family], signature, inputs)
        helpers.assert_same_outputs(replayed, direct)
        # The answer, as the client reads it back.
        response = predict_pb2.PredictResponse()
        for name, value in replayed.items():
            response.outputs[name].CopyFrom(tf.make_tensor_proto(value))
        answer = predict_pb2.PredictResponse.FromString(response.SerializeToString())
        helpers.assert_same_outputs(client.predict_outputs(answer), direct)


@pytest.mark.parametrize("family", helpers.EXPORT_FAMILIES)
def test_rest_row_and_columnar_bodies_give_the_same_answers(exported, loaded, family):
    for signature, inputs in _small_requests(exported[family].model).items():
        direct = helpers.call_signature(loaded[family], signature, inputs)
        function = loaded[family].signatures[signature]
        request = helpers.client_request(signature, inputs)
        for columnar in (False, True):
            body = json.loads(json.dumps(client.rest_body(request, columnar)))
            assert ("inputs" in body) == columnar and ("instances" in body) != columnar
            tensors = helpers.rest_to_tensors(body, function)
            outputs = helpers.call_signature(loaded[family], body["signature_name"], tensors)
            helpers.assert_same_outputs(outputs, direct)
            # The answer is JSON too; the client reads it back, names or none.
            answer = json.loads(json.dumps(helpers.rest_answer(body, outputs)))
            helpers.assert_same_outputs(client.rest_outputs(request, answer), direct)
    # Row format with only a seed per instance, as in the README's curl.
    if exported[family].model.num_classes is None:
        body = json.loads('{"instances": [{"seed": [1, 2]}, {"seed": [3, 4]}]}')
        tensors = helpers.rest_to_tensors(body, loaded[family].signatures["serving_default"])
        seed = np.array([[1, 2], [3, 4]], np.int32)
        assert client.rest_body(client.sample_request(seed))["instances"] == body["instances"]
        helpers.assert_same_outputs(
            helpers.call_signature(loaded[family], "serving_default", tensors),
            helpers.call_signature(loaded[family], "serving_default", {"seed": seed}),
        )


@pytest.mark.parametrize("family", helpers.EXPORT_FAMILIES)
def test_warmup_requests_cover_every_signature_and_run(exported, loaded, family):
    entry = exported[family]
    path = os.path.join(entry.path, WARMUP_FILE)
    assert path == os.path.join(entry.path, "assets.extra", "tf_serving_warmup_requests")
    expected = helpers.expected_signatures(entry.model)
    seen = collections.Counter()
    for record in tf.data.TFRecordDataset(path):
        log = prediction_log_pb2.PredictionLog.FromString(record.numpy())
        assert log.WhichOneof("log_type") == "predict_log"
        request = log.predict_log.request
        assert request.model_spec.name == family
        signature = request.model_spec.signature_name
        inputs = {name: tf.make_ndarray(proto) for name, proto in request.inputs.items()}
        assert sorted(inputs) == sorted(expected[signature]["inputs"])
        outputs = helpers.call_signature(loaded[family], signature, inputs)
        batch = len(inputs["images" if "images" in inputs else "seed"])
        assert sorted(outputs) == sorted(expected[signature]["outputs"])
        assert all(len(value) == batch for value in outputs.values())
        seen[signature] += 1
    assert sorted(seen) == sorted(SIGNATURE_NAMES)
    assert sum(seen.values()) <= 1000  # TF Serving reads at most 1000 records


@pytest.mark.parametrize("family", helpers.EXPORT_FAMILIES)
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
    message = helpers.call_refused(
        loaded[family], signature, helpers.signature_request(model, signature, **changes)
    )
    name = "known_mask" if change == "mask_size" else "images"
    assert f"`{name}`" in message or f"{name} " in message, message
    expected = (height, width) if change == "mask_size" else (height, width, channels)
    pattern = r"(?<!\d)" + r"\D{1,3}".join(map(str, expected)) + r"(?!\d)"
    assert re.search(pattern, message), message


@pytest.mark.parametrize("signature", SIGNATURE_NAMES)
def test_label_out_of_range_or_of_another_batch_is_refused(exported, loaded, signature):
    model = exported["diagonal_bilstm"].model
    for label in ([0, 3], [-1, 0], [0]):
        message = helpers.call_refused(
            loaded["diagonal_bilstm"], signature,
            helpers.signature_request(model, signature, condition=np.array(label, np.int32)),
            tf.errors.InvalidArgumentError,
        )
        assert "`condition`" in message
    assert "[0, 3)" in message or "one row per image" in message
    # An unconditional model's signature takes no label, a conditional one needs it.
    plain = exported["pixel_cnn_pp"].model
    with pytest.raises((TypeError, ValueError)):
        helpers.call_signature(loaded["pixel_cnn_pp"], signature,
              helpers.signature_request(plain, signature, condition=np.zeros(2, np.int32)))
    inputs = helpers.signature_request(model, signature)
    del inputs["condition"]
    with pytest.raises((TypeError, ValueError)):
        helpers.call_signature(loaded["diagonal_bilstm"], signature, inputs)


@pytest.mark.parametrize("family", helpers.EXPORT_FAMILIES)
def test_seed_of_three_columns_is_refused(exported, loaded, family):
    model = exported[family].model
    for signature in ("serving_default", "sample_with_temperature", "complete"):
        helpers.call_refused(
            loaded[family], signature,
            helpers.signature_request(model, signature, seed=np.zeros((2, 3), np.int32)),
            (tf.errors.InvalidArgumentError, ValueError, TypeError),
        )


@pytest.mark.parametrize("family", helpers.EXPORT_FAMILIES)
def test_batch_mismatch_is_refused_naming_the_input(exported, loaded, family):
    model = exported[family].model
    for signature, name, value in [
        ("complete", "known_mask", np.zeros((1, *model.image_shape[:2]), np.uint8)),
        ("complete", "seed", np.zeros((3, 2), np.int32)),
        ("sample_with_temperature", "temperature", np.ones(3, np.float32)),
    ]:
        message = helpers.call_refused(
            loaded[family], signature, helpers.signature_request(model, signature, **{name: value}),
            tf.errors.InvalidArgumentError,
        )
        assert f"`{name}`" in message


@pytest.mark.parametrize("family", helpers.EXPORT_FAMILIES)
def test_image_values_above_the_top_level_are_refused(exported, loaded, family):
    model = exported[family].model
    images = helpers.base_inputs(model)["images"][:2].copy()
    images[1, -1, -1, -1] = model.num_levels  # one too many
    for signature in ("log_prob", "complete"):
        message = helpers.call_refused(
            loaded[family], signature, helpers.signature_request(model, signature, images=images),
            tf.errors.InvalidArgumentError,
        )
        assert "`images`" in message and f"[0, {model.num_levels - 1}]" in message
    top = images.copy()
    top[1, -1, -1, -1] = model.num_levels - 1
    outputs = helpers.call_signature(
        loaded[family], "log_prob", helpers.signature_request(model, "log_prob", images=top)
    )
    assert np.isfinite(outputs["log_prob_nats"]).all()


@pytest.mark.parametrize("temperature", [0.0, -1.0, float("nan")])
def test_non_positive_temperature_is_refused(exported, loaded, temperature):
    model = exported["pixel_cnn_pp"].model
    message = helpers.call_refused(
        loaded["pixel_cnn_pp"], "sample_with_temperature",
        helpers.signature_request(model, "sample_with_temperature",
                 temperature=np.array([1.0, temperature], np.float32)),
        tf.errors.InvalidArgumentError,
    )
    assert "`temperature` must be positive" in message
