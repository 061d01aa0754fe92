"""The serving signatures of a pixel_keras model and the atomic export.

Every signature takes named, batched inputs (batch dimension `None`, so TF
Serving's row format `{"instances": [...]}` works) and returns a dict:

- `serving_default` (sample): `seed` int32 `[None, 2]`, one stateless seed
  per requested image (and `label` int32 `[None]` for a class-conditional
  model, or `condition` float32 `[None, *conditional_shape]` for a model
  conditioned on values) -> `images` uint8 `[None, H, W, C]` (int32 for a
  model with more than 256 levels, here and below). Image `i` depends only
  on `seed[i]` (and `label[i]`), not on the rest of the request.
- `sample_with_temperature`: the same plus `temperature` float32 `[None]`.
- `log_prob`: `images` uint8 (and `label`) -> `log_prob_nats` and
  `bits_per_dim`, float32 `[None]`.
- `complete`: `images` uint8, `known_mask` uint8 `[None, H, W]` (non-zero =
  known) and `seed` (and `label`) -> `images`, with every known pixel kept.

Wherever `label` is named, a model with a `conditional_shape` takes
`condition` instead.

The graphs use only core TensorFlow ops: stateless random ops seeded from the
request, `tf.while_loop` sampling, no `jit_compile`, no Python callbacks.
Requests are checked in the graph, so a bad one fails with an
`InvalidArgument` error that says what was wrong.
"""

import math
import os
import shutil
import tempfile

import keras
import tensorflow as tf

from pixel_keras import sampling

SIGNATURE_NAMES = ("serving_default", "sample_with_temperature", "log_prob", "complete")
WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")


def _check_batch(name, tensor, batch):
    return tf.debugging.assert_equal(
        tf.shape(tensor)[0],
        batch,
        message=f"`{name}` must have one row per image, like the other inputs",
    )


def _checked_conditioning(model, value, batch):
    """Asserts one in-range label (or one finite condition) per image."""
    if model.num_classes is None:
        return [
            _checked_shape("condition", value, list(model.conditional_shape)),
            _check_batch("condition", value, batch),
            tf.debugging.assert_all_finite(value, "`condition` must be finite"),
        ]
    return [
        _check_batch("label", value, batch),
        tf.debugging.assert_greater_equal(
            value, 0, message=f"`label` must be in [0, {model.num_classes})"
        ),
        tf.debugging.assert_less(
            value, model.num_classes, message=f"`label` must be in [0, {model.num_classes})"
        ),
    ]


def _checked_shape(name, tensor, expected):
    """Asserts the non-batch dimensions; loaded signatures do not check them."""
    shape = ", ".join(str(d) for d in expected)
    return tf.debugging.assert_equal(
        tf.shape(tensor)[1:],
        tf.constant(expected, tf.int32),
        message=f"`{name}` must have shape [batch, {shape}]",
    )


def _checked_images(model, images):
    return [
        _checked_shape("images", images, list(model.image_shape)),
        tf.debugging.assert_less_equal(
            images,
            tf.cast(model.num_levels - 1, images.dtype),
            message=f"`images` values must be in [0, {model.num_levels - 1}]",
        ),
        tf.debugging.assert_non_negative(
            images, message=f"`images` values must be in [0, {model.num_levels - 1}]"
        ),
    ]


def serving_functions(model):
    """The serving functions of `model` and their input signatures.

    Args:
        model: a pixel_keras model (`PixelCNNPlusPlus`, `PixelCNN`,
            `PixelRNN`).

    Returns:
        dict signature name -> `(function, input_signature)`; each function
        takes the signature's inputs as keyword-named arguments and returns
        a dict of outputs.
    """
    height, width, channels = model.image_shape
    conditional = model.num_classes is not None or model.conditional_shape is not None
    num_dims = math.prod(model.image_shape)
    seed_spec = tf.TensorSpec([None, 2], tf.int32, name="seed")
    if model.num_classes is not None:
        label_spec = tf.TensorSpec([None], tf.int32, name="label")
    else:
        label_spec = tf.TensorSpec(
            [None, *(model.conditional_shape or ())], tf.float32, name="condition"
        )
    image_dtype = model.sample_dtype
    images_spec = tf.TensorSpec([None, height, width, channels], image_dtype, name="images")
    mask_spec = tf.TensorSpec([None, height, width], tf.uint8, name="known_mask")
    temperature_spec = tf.TensorSpec([None], tf.float32, name="temperature")

    def draw(images, known, seed, label, temperature):
        # Called under the request checks' control dependencies. The loop's
        # inputs are made to depend on them too (by the identities), because
        # a function call inlined into the graph keeps the dependencies on
        # its inputs only: a bad label must fail its check, not a gather.
        batch = tf.shape(seed)[0]
        if label is not None:
            label = tf.identity(label)
        return sampling.draw(
            model,
            tf.cast(images, tf.float32),
            tf.identity(known),
            tf.identity(seed),
            label,
            tf.broadcast_to(temperature, [batch]),
        )

    def sample(seed, label=None, temperature=None):
        batch = tf.shape(seed)[0]
        checks = [_checked_shape("seed", seed, [2])]
        if conditional:
            checks += _checked_conditioning(model, label, batch)
        if temperature is not None:
            checks += [
                _check_batch("temperature", temperature, batch),
                tf.debugging.assert_positive(
                    temperature, message="`temperature` must be positive"
                ),
            ]
        else:
            temperature = tf.ones([batch], tf.float32)
        with tf.control_dependencies(checks):
            images = tf.zeros([batch, height, width, channels], image_dtype)
            known = tf.zeros([batch, height, width], tf.bool)
            return {"images": draw(images, known, seed, label, temperature)}

    def log_prob(images, label=None):
        batch = tf.shape(images)[0]
        checks = _checked_images(model, images)
        if conditional:
            checks += _checked_conditioning(model, label, batch)
        with tf.control_dependencies(checks):
            values = tf.cast(images, tf.float32)
            if model.conditional_shape is not None:
                distribution = model.distribution(values, condition=label)
            else:
                distribution = model.distribution(values, label)
            nats = distribution.log_prob(values)
        return {
            "log_prob_nats": nats,
            "bits_per_dim": -nats / (num_dims * math.log(2.0)),
        }

    def complete(images, known_mask, seed, label=None):
        batch = tf.shape(images)[0]
        checks = _checked_images(model, images) + [
            _checked_shape("known_mask", known_mask, [height, width]),
            _checked_shape("seed", seed, [2]),
            _check_batch("known_mask", known_mask, batch),
            _check_batch("seed", seed, batch),
        ]
        if conditional:
            checks += _checked_conditioning(model, label, batch)
        with tf.control_dependencies(checks):
            known = tf.not_equal(known_mask, 0)
            return {
                "images": draw(images, known, seed, label, tf.ones([batch], tf.float32))
            }

    # Keyword-only wrappers fix the signature's input names and order.
    if model.conditional_shape is not None:
        functions = {
            "serving_default": (
                lambda seed, condition: sample(seed, condition),
                [seed_spec, label_spec],
            ),
            "sample_with_temperature": (
                lambda seed, condition, temperature: sample(seed, condition, temperature),
                [seed_spec, label_spec, temperature_spec],
            ),
            "log_prob": (
                lambda images, condition: log_prob(images, condition),
                [images_spec, label_spec],
            ),
            "complete": (
                lambda images, known_mask, seed, condition: complete(
                    images, known_mask, seed, condition
                ),
                [images_spec, mask_spec, seed_spec, label_spec],
            ),
        }
    elif conditional:
        functions = {
            "serving_default": (
                lambda seed, label: sample(seed, label),
                [seed_spec, label_spec],
            ),
            "sample_with_temperature": (
                lambda seed, label, temperature: sample(seed, label, temperature),
                [seed_spec, label_spec, temperature_spec],
            ),
            "log_prob": (
                lambda images, label: log_prob(images, label),
                [images_spec, label_spec],
            ),
            "complete": (
                lambda images, known_mask, seed, label: complete(
                    images, known_mask, seed, label
                ),
                [images_spec, mask_spec, seed_spec, label_spec],
            ),
        }
    else:
        functions = {
            "serving_default": (lambda seed: sample(seed), [seed_spec]),
            "sample_with_temperature": (
                lambda seed, temperature: sample(seed, temperature=temperature),
                [seed_spec, temperature_spec],
            ),
            "log_prob": (lambda images: log_prob(images), [images_spec]),
            "complete": (
                lambda images, known_mask, seed: complete(images, known_mask, seed),
                [images_spec, mask_spec, seed_spec],
            ),
        }
    return functions


def _example_requests(model):
    """A small request per signature for warm-up: name -> list of inputs."""
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
        if model.num_classes is not None:
            extra["label"] = tf.zeros([batch], tf.int32)
        if model.conditional_shape is not None:
            extra["condition"] = tf.zeros([batch, *model.conditional_shape], tf.float32)
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


def _write_warmup_requests(path, model_name, requests):
    # tensorflow-serving-api provides the request protos (it depends on the
    # full `tensorflow`, which pixel_keras already needs).
    from tensorflow_serving.apis import model_pb2
    from tensorflow_serving.apis import predict_pb2
    from tensorflow_serving.apis import prediction_log_pb2

    os.makedirs(os.path.dirname(path), exist_ok=True)
    with tf.io.TFRecordWriter(path) as writer:
        for signature, examples in requests.items():
            for inputs in examples:
                request = predict_pb2.PredictRequest(
                    model_spec=model_pb2.ModelSpec(
                        name=model_name, signature_name=signature
                    )
                )
                for name, value in inputs.items():
                    request.inputs[name].CopyFrom(tf.make_tensor_proto(value.numpy()))
                log = prediction_log_pb2.PredictionLog(
                    predict_log=prediction_log_pb2.PredictLog(request=request)
                )
                writer.write(log.SerializeToString())


def _next_version(model_dir):
    versions = [
        int(name)
        for name in os.listdir(model_dir)
        if name.isascii() and name.isdigit()
    ]
    return max(versions, default=0) + 1


def export_model(model, export_dir, model_name, version=None, warmup=True):
    """Exports `model` as `export_dir/model_name/version/` for TF Serving.

    The SavedModel is written to a temporary folder beside the version
    folders (TF Serving loads only numeric names) and renamed into place, so
    a crash never leaves a half-written version that a server would load.
    When the model's optimizer keeps EMA (Polyak) weights, the export serves
    those; dropout is off in every signature.

    Args:
        model: a pixel_keras model.
        export_dir: the TF Serving base path (`/models` in the container).
        model_name: the model's folder (`MODEL_NAME` of the container).
        version: positive int, or None for one more than the newest version.
        warmup: whether to write `assets.extra/tf_serving_warmup_requests`.

    Returns:
        The version folder's path.

    Raises:
        FileExistsError: if the version folder exists (nothing is
            overwritten).
        ValueError: for a bad `model_name` or `version`.
    """
    if not model_name or os.sep in model_name or model_name.startswith("."):
        raise ValueError(
            "Expected `model_name` to be a folder name (no path separator, not "
            f"hidden). Received: model_name={model_name!r}"
        )
    if version is not None and (
        isinstance(version, bool) or not isinstance(version, int) or version < 1
    ):
        raise ValueError(f"Expected a positive int `version`. Received: version={version!r}")
    model_dir = os.path.join(export_dir, model_name)
    os.makedirs(model_dir, exist_ok=True)
    if version is None:
        version = _next_version(model_dir)
    final = os.path.join(model_dir, str(version))
    if os.path.exists(final):
        raise FileExistsError(
            f"{final!r} exists; export never overwrites a version. Pass another "
            "--version, or none to write the next one."
        )

    # A model trained with EMA (Polyak) weights serves those, as Keras' own
    # fit leaves them at its end; the caller's model gets its weights back.
    optimizer = getattr(model, "optimizer", None)
    uses_ema = bool(optimizer is not None and optimizer.built and optimizer.use_ema)
    if uses_ema:
        current = [variable.numpy() for variable in model.trainable_variables]
        optimizer.finalize_variable_values(model.trainable_variables)

    archive = keras.export.ExportArchive()
    archive.track(model)
    for name, (function, signature) in serving_functions(model).items():
        archive.add_endpoint(name, function, input_signature=signature)

    temporary = tempfile.mkdtemp(prefix=f".tmp-{version}-", dir=model_dir)
    try:
        staged = os.path.join(temporary, "saved_model")
        archive.write_out(staged, verbose=False)
        if warmup:
            _write_warmup_requests(
                os.path.join(staged, WARMUP_FILE), model_name, _example_requests(model)
            )
        # Checked again just before the rename: another exporter may have
        # written this version meanwhile (and a rename onto a non-empty
        # folder fails rather than replacing it).
        if os.path.exists(final):
            raise FileExistsError(f"{final!r} appeared during the export; not replaced.")
        try:
            os.rename(staged, final)
        except OSError as error:
            raise FileExistsError(
                f"{final!r} appeared during the export; not replaced ({error})."
            ) from error
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
        if uses_ema:
            for variable, value in zip(model.trainable_variables, current):
                variable.assign(value)
    return final
