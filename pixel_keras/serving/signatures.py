"""The serving signatures of a pixel_keras model, with their request checks.

Every signature takes named, batched inputs (batch dimension `None`, so TF
Serving's row format `{"instances": [...]}` works) and returns a dict:

- `serving_default` (sample): `seed` int32 `[None, 2]`, one stateless seed
  per requested image (and, for a conditional model, `condition`: int32
  labels `[None]`, or float32 values `[None, *conditional_shape]`) ->
  `images` uint8 `[None, H, W, C]` (int32 for a model with more than 256
  levels, here and below). Image `i` depends only on `seed[i]` (and
  `condition[i]`), not on the rest of the request.
- `sample_with_temperature`: the same plus `temperature` float32 `[None]`.
- `log_prob`: `images` uint8 (and `condition`) -> `log_prob_nats` and
  `bits_per_dim`, float32 `[None]`.
- `complete`: `images` uint8, `known_mask` uint8 `[None, H, W]` (non-zero =
  known) and `seed` (and `condition`) -> `images`, with every known pixel
  kept.

Exports before pixel_keras 0.2 named a class-conditional model's input
`label`; `serving_functions(model, condition_name="label")` keeps that name
for clients written against them.

The graphs use only core TensorFlow ops: stateless random ops seeded from the
request, `tf.while_loop` sampling, no `jit_compile`, no Python callbacks.
`serving_functions(model, xla=True)` is the exception asked for: its sampling
loop is the XLA-compiled one of `model.sample` (measured 15x faster for a
32x32x3 PixelCNN++ image on 2 CPU cores), which TF Serving runs only with
`--xla_cpu_compilation_enabled=true` on CPU.
Requests are checked in the graph, so a bad one fails with an
`InvalidArgument` error that says what was wrong.
"""

import inspect
import math

import tensorflow as tf

from pixel_keras import sampling
from pixel_keras.conditioning import CONDITION
from pixel_keras.pixel_values import pixel_value_assertions

SIGNATURE_NAMES = ("serving_default", "sample_with_temperature", "log_prob", "complete")
# The name of a class-conditional model's labels in exports before 0.2.
LEGACY_LABEL_NAME = "label"

# Each signature's inputs, in order, without the condition (which comes
# last but for `sample_with_temperature`'s temperature, as before 0.2).
_INPUTS = {
    "serving_default": ("seed", CONDITION),
    "sample_with_temperature": ("seed", CONDITION, "temperature"),
    "log_prob": ("images", CONDITION),
    "complete": ("images", "known_mask", "seed", CONDITION),
}


def _check_batch(name, tensor, batch):
    return tf.debugging.assert_equal(
        tf.shape(tensor)[0],
        batch,
        message=f"`{name}` must have one row per image, like the other inputs",
    )


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
        *pixel_value_assertions(images, model.num_levels, "images"),
    ]


def _with_input_names(function, names):
    """`function` with its positional parameters named `names`: the
    signature's input names are the function's parameter names."""

    def named(*args):
        return function(*args)

    named.__signature__ = inspect.Signature(
        [inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD) for name in names]
    )
    return named


def serving_functions(model, condition_name=CONDITION, xla=False):
    """The serving functions of `model` and their input signatures.

    Args:
        model: a pixel_keras model (`PixelCNNPlusPlus`, `PixelCNN`,
            `PixelRNN`).
        condition_name: the name of a conditional model's condition input:
            `"condition"`, or `"label"` as exports before pixel_keras 0.2
            named a class-conditional model's labels.
        xla: whether the sampling loop (`serving_default`,
            `sample_with_temperature`, `complete`) is the XLA-compiled one,
            as `model.sample` runs it: several times faster, and served only
            where XLA runs (TF Serving with
            `--xla_cpu_compilation_enabled=true` on CPU). False (the
            default): the plain loop, core TensorFlow ops only.

    Returns:
        dict signature name -> `(function, input_signature)`; each function
        takes the signature's inputs as keyword-named arguments and returns
        a dict of outputs.
    """
    height, width, channels = model.image_shape
    spec = model.condition_spec
    num_dims = math.prod(model.image_shape)
    image_dtype = model.sample_dtype
    input_specs = {
        "seed": tf.TensorSpec([None, 2], tf.int32, name="seed"),
        "images": tf.TensorSpec([None, height, width, channels], image_dtype, name="images"),
        "known_mask": tf.TensorSpec([None, height, width], tf.uint8, name="known_mask"),
        "temperature": tf.TensorSpec([None], tf.float32, name="temperature"),
        CONDITION: spec.tensor_spec(name=condition_name),
    }

    def condition_checks(condition, batch):
        return spec.assertions(condition, batch, name=condition_name)

    def draw(images, known, seed, condition, temperature, teacher_forced_rows):
        # Called under the request checks' control dependencies. The loop's
        # inputs are made to depend on them too (by the identities), because
        # a function call inlined into the graph keeps the dependencies on
        # its inputs only: a bad label must fail its check, not a gather.
        batch = tf.shape(seed)[0]
        if condition is not None:
            condition = tf.identity(condition)
        return sampling.draw(
            model,
            tf.cast(images, tf.float32),
            tf.identity(known),
            tf.identity(seed),
            condition,
            tf.broadcast_to(temperature, [batch]),
            jit_compile=xla,
            teacher_forced_rows=teacher_forced_rows,
        )

    def sample(seed, condition=None, temperature=None):
        batch = tf.shape(seed)[0]
        checks = [_checked_shape("seed", seed, [2])] + condition_checks(condition, batch)
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
            return {"images": draw(images, known, seed, condition, temperature, False)}

    def log_prob(images, condition=None):
        batch = tf.shape(images)[0]
        checks = _checked_images(model, images) + condition_checks(condition, batch)
        with tf.control_dependencies(checks):
            values = tf.cast(images, tf.float32)
            nats = model.distribution(values, condition).log_prob(values)
        return {
            "log_prob_nats": nats,
            "bits_per_dim": -nats / (num_dims * math.log(2.0)),
        }

    def complete(images, known_mask, seed, condition=None):
        batch = tf.shape(images)[0]
        checks = _checked_images(model, images) + [
            _checked_shape("known_mask", known_mask, [height, width]),
            _checked_shape("seed", seed, [2]),
            _check_batch("known_mask", known_mask, batch),
            _check_batch("seed", seed, batch),
        ]
        checks += condition_checks(condition, batch)
        with tf.control_dependencies(checks):
            known = tf.not_equal(known_mask, 0)
            ones = tf.ones([batch], tf.float32)
            return {"images": draw(images, known, seed, condition, ones, True)}

    def sample_with_temperature(seed, condition, temperature):
        return sample(seed, condition, temperature)

    implementations = {
        "serving_default": sample,
        "sample_with_temperature": sample_with_temperature,
        "log_prob": log_prob,
        "complete": complete,
    }
    functions = {}
    for name in SIGNATURE_NAMES:
        inputs = [key for key in _INPUTS[name] if key != CONDITION or spec.is_conditional]
        implementation = implementations[name]
        if not spec.is_conditional:
            # The condition is absent: pass None in its place.
            implementation = _without_condition(implementation, _INPUTS[name])
        names = [condition_name if key == CONDITION else key for key in inputs]
        functions[name] = (
            _with_input_names(implementation, names),
            [input_specs[key] for key in inputs],
        )
    return functions


def _without_condition(function, inputs):
    """`function` called with None in the condition's position."""
    position = inputs.index(CONDITION)

    def call(*args):
        return function(*args[:position], None, *args[position:])

    return call
