"""TF Serving warm-up records: one small request per signature, replayed by
the server before it reports the model version as available."""

import os

import tensorflow as tf
from tensorflow_serving.apis import model_pb2
from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.apis import prediction_log_pb2

from pixel_keras.conditioning import CONDITION

# Where TF Serving looks for them in a version folder.
WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")


def example_requests(model, condition_name=CONDITION):
    """A request of one and of two images per signature, for warm-up.

    Args:
        model: a pixel_keras model.
        condition_name: the name of the export's condition input.

    Returns:
        dict signature name -> list of `{input name: tensor}`.
    """
    height, width, channels = model.image_shape
    requests = {}
    for batch in (1, 2):
        seed = tf.constant([[0, i] for i in range(batch)], tf.int32)
        images = tf.zeros([batch, height, width, channels], model.sample_dtype)
        mask = tf.concat(
            [
                tf.ones([batch, height // 2, width], tf.uint8),
                tf.zeros([batch, height - height // 2, width], tf.uint8),
            ],
            axis=1,
        )
        extra = {}
        if model.condition_spec.is_conditional:
            extra[condition_name] = model.condition_spec.zeros(batch)
        temperature = tf.ones([batch], tf.float32)
        requests.setdefault("serving_default", []).append({"seed": seed, **extra})
        requests.setdefault("sample_with_temperature", []).append(
            {"seed": seed, **extra, "temperature": temperature}
        )
        requests.setdefault("log_prob", []).append({"images": images, **extra})
        requests.setdefault("complete", []).append(
            {"images": images, "known_mask": mask, "seed": seed, **extra}
        )
    return requests


def write_warmup_requests(path, model_name, requests):
    """Writes `requests` (as `example_requests` gives them) as the
    `PredictionLog` records TF Serving replays."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with tf.io.TFRecordWriter(path) as writer:
        for signature, examples in requests.items():
            for inputs in examples:
                request = predict_pb2.PredictRequest(
                    model_spec=model_pb2.ModelSpec(name=model_name, signature_name=signature)
                )
                for name, value in inputs.items():
                    request.inputs[name].CopyFrom(tf.make_tensor_proto(value.numpy()))
                log = prediction_log_pb2.PredictionLog(
                    predict_log=prediction_log_pb2.PredictLog(request=request)
                )
                writer.write(log.SerializeToString())
