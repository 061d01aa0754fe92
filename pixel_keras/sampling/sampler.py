"""Autoregressive sampling and completion: the entry points and the dispatch.

A model is sampled one pixel at a time in raster order. All randomness is
drawn up front from one stateless seed per image (`noise.py`), so

- image `i` depends only on its own seed (not on the batch it is in), and
- any two samplers that consume the same noise give the same images.

Two loops consume that noise, each a `tf.while_loop` inside one
`tf.function` (so that they also run inside an exported SavedModel):

- `method="cached"` (the default): the model's own cached loop,
  `model.build_cached_loop()`, which at each step computes only what the new
  pixel changes (each model family keeps it beside the model);
- `method="naive"`: the whole network once per pixel (or sub-pixel),
  `naive.py`. It is the reference the cached loops are tested against: both
  give the same images for the same seeds.

A model is anything with `image_shape`, `num_levels`, `condition_spec` (a
`pixel_keras.conditioning.ConditionSpec`), `samples_subpixels`,
`sample_dtype`, `make_inputs(images, condition)`,
`output_distribution(outputs, temperature)`, `build_cached_loop()` and a
call that maps inputs to `(batch, height, width, num_params)`; a sub-pixel
model also has `channel_logits(outputs)`. `build_cached_loop` may take
`jit_compile` and `teacher_forced_rows` (see
`AutoregressiveImageModel.build_cached_loop`); a model whose method takes
neither gets a plain loop that handles any `known`.
"""

import contextlib
import inspect
import os
import threading
import weakref

import numpy as np
import tensorflow as tf

from pixel_keras.pixel_values import check_pixel_values
from pixel_keras.sampling import arguments
from pixel_keras.sampling import naive
from pixel_keras.sampling.noise import noise_per_image
from pixel_keras.sampling.noise import per_image_seeds

# The sampling methods: "cached" computes only what each new pixel changes
# (the model's `build_cached_loop()`); "naive" runs the whole network per
# pixel and is the reference the cached loops are tested against.
METHODS = ("cached", "naive")

# Set to 0 to sample without XLA by default (`jit_compile=None`); the
# tests do, and test the compiled loops explicitly.
XLA_ENVIRONMENT_VARIABLE = "PIXEL_KERAS_SAMPLING_XLA"

# The traced loops of each model, by (method, XLA), dropped with the model.
_LOOPS = weakref.WeakKeyDictionary()

# XLA-compiled loops run one at a time in a process. Two running at once
# (two threads sampling side by side, or one batch cut into parts run on
# separate threads) drew wrong images with TensorFlow 2.21 on CPU: a block
# of about 7 of 128 images differed from the same seeds drawn alone (up to
# 0.2 in a PixelCNN++'s down-shifted stream), differently from run to run.
# The uncompiled loop showed no difference. Measured on a 32x32x3
# PixelCNN++ at batch 128 (BUILD.md, "Decisions").
_XLA_LOOP_LOCK = threading.Lock()


# Set inside `one_trace_per_loop()`: the concrete loops traced there, by
# loop and argument specs.
_SHARED_TRACES = threading.local()


@contextlib.contextmanager
def one_trace_per_loop():
    """Inside it, the functions that trace `draw` share one trace of each
    loop per argument specs.

    `tf.saved_model.save` traces every signature again in its save context
    (a `tf.function` keys its traces by the context's variable policy,
    which is None before and `VariablePolicy.NONE` inside), and the sampling
    loops each signature calls would be traced again with it, a few seconds
    each. An export (`export.export_model`) writes its SavedModel inside
    this context, so the signatures' second traces call the loops' first.
    """
    outer = getattr(_SHARED_TRACES, "loops", None)
    _SHARED_TRACES.loops = {} if outer is None else outer
    try:
        yield
    finally:
        _SHARED_TRACES.loops = outer


def _call_loop(loop, arguments):
    """`loop(*arguments)`, through its shared trace inside
    `one_trace_per_loop()` when traced."""
    shared = getattr(_SHARED_TRACES, "loops", None)
    if shared is None or tf.executing_eagerly():
        return loop(*arguments)
    key = (loop, tuple(None if a is None else tf.type_spec_from_value(a) for a in arguments))
    if key not in shared:
        shared[key] = loop.get_concrete_function(*arguments)
    return shared[key](*arguments)


def _loop(model, method, jit_compile=False, teacher_forced_rows=True):
    """The traced sampling loop of `model` for `method`, built once.

    `teacher_forced_rows` (completions) adds the cached loop's pass over the
    rows above the first unknown pixel; sampling, with no pixel known, needs
    none and skips tracing (and compiling) it.
    """
    loops = _LOOPS.setdefault(model, {})
    key = (method, jit_compile, teacher_forced_rows and method == "cached")
    if key not in loops:
        if method == "cached":
            # Only the arguments the model's method takes: a model written
            # against `build_cached_loop()` still samples (its loop then
            # handles any `known` itself).
            arguments = {"jit_compile": jit_compile, "teacher_forced_rows": teacher_forced_rows}
            accepted = inspect.signature(model.build_cached_loop).parameters
            loops[key] = model.build_cached_loop(
                **{name: value for name, value in arguments.items() if name in accepted}
            )
        elif model.samples_subpixels:
            loops[key] = naive.naive_subpixel_loop(model)
        else:
            loops[key] = naive.naive_loop(model)
    return loops[key]


def _resolve_jit_compile(model, method, jit_compile):
    """`jit_compile=None` (auto): XLA for a cached loop that compiles with it
    (`model.cached_loop_compiles`): measured 2-10x faster on 2 CPU cores;
    `PIXEL_KERAS_SAMPLING_XLA=0` turns the default off."""
    if jit_compile is None:
        if os.environ.get(XLA_ENVIRONMENT_VARIABLE, "1").strip().lower() in ("0", "false"):
            return False
        return method == "cached" and getattr(model, "cached_loop_compiles", False)
    if jit_compile and not (method == "cached" and getattr(model, "cached_loop_compiles", False)):
        raise ValueError(
            f"`jit_compile=True` needs method='cached' and a model whose cached "
            f"loop compiles with XLA. Received: method={method!r} for "
            f"{type(model).__name__}"
        )
    return bool(jit_compile)


def check_method(method):
    """Raises a ValueError unless `method` is one of `METHODS`."""
    if method not in METHODS:
        raise ValueError(
            f"Expected `method` to be one of {METHODS}. Received: method={method!r}"
        )
    return method


def sample(
    model,
    num,
    seed,
    condition=None,
    temperature=1.0,
    method="cached",
    *,
    labels=None,
    jit_compile=None,
):
    """Draws `num` images from `model`, one pixel at a time.

    Args:
        model: a pixel_keras model (see the module docstring).
        num: positive int, the number of images.
        seed: int, int `[2]`, or int `[num, 2]` per-image seeds.
        condition: the model's condition for each image (int class labels
            `(num,)`, or values `(num, *conditional_shape)`), or None for an
            unconditional model.
        temperature: a finite number > 0, or `(num,)` of them (one per
            image), passed to `model.output_distribution`.
        method: `"cached"` (the default: each step computes only what the
            new pixel changes) or `"naive"` (the whole network per pixel;
            the reference). Both give the same images for the same seeds.
        labels: deprecated name of `condition`.
        jit_compile: whether the loop is compiled with XLA; None (the
            default) for the cached loop of a model whose loop compiles
            (`cached_loop_compiles`: every pixel_keras model). The same
            images either way; the export never uses XLA.

    Returns:
        uint8 `(num, height, width, channels)` images (int32 above 256
        levels).

    Raises:
        ValueError: before any sampling work, for a bad argument (`num`,
            `seed`, `condition`, `temperature`, `method`, `jit_compile`),
            naming it, what was received and what was expected.
    """
    if isinstance(num, bool) or not isinstance(num, (int, np.integer)) or num < 1:
        raise ValueError(f"Expected `num` to be a positive int. Received: num={num!r}")
    num = int(num)
    images = tf.zeros([num, *model.image_shape], tf.float32)
    known = tf.zeros([num, *model.image_shape[:2]], tf.bool)
    condition = model.condition_spec.resolve(condition, labels)
    return _run(
        model, images, known, seed, condition, temperature, method, jit_compile, False
    )


def complete(
    model,
    images,
    known_mask,
    seed,
    condition=None,
    temperature=1.0,
    method="cached",
    *,
    labels=None,
    jit_compile=None,
):
    """Fills the unknown pixels of `images`, keeping known pixels exactly.

    Args:
        model: a pixel_keras model.
        images: `(batch, height, width, channels)` integer-valued images in
            `[0, num_levels - 1]` (the values of unknown pixels are ignored).
        known_mask: `(batch, height, width)`, True (or 1) where a pixel is
            known: bool, or integers that are all 0 or 1 (not floats).
        seed: int, int `[2]`, or int `[batch, 2]` per-image seeds.
        condition: as for `sample`, one per image.
        temperature: as for `sample`, one per image.
        method: `"cached"` or `"naive"`, as for `sample`.
        labels: deprecated name of `condition`.
        jit_compile: as for `sample`.

    Returns:
        images of the same shape, of `model.sample_dtype`.

    Raises:
        ValueError: before any sampling work, for a bad argument (`images`,
            `known_mask`, and those of `sample`), naming it, what was
            received and what was expected.
    """
    images = tf.convert_to_tensor(images)
    expected = tuple(model.image_shape)
    if images.shape.rank != 4 or tuple(images.shape[1:]) != expected:
        raise ValueError(
            f"Expected `images` of shape (batch, {', '.join(map(str, expected))}). "
            f"Received: images.shape={tuple(images.shape)}"
        )
    known_mask = arguments.check_known_mask(known_mask, images.shape[:3])
    images = tf.cast(check_pixel_values(images, model.num_levels, "images"), tf.float32)
    condition = model.condition_spec.resolve(condition, labels)
    return _run(
        model, images, known_mask, seed, condition, temperature, method, jit_compile
    )


def _run(
    model,
    images,
    known,
    seed,
    condition,
    temperature,
    method,
    jit_compile=None,
    teacher_forced_rows=True,
):
    check_method(method)
    jit_compile = _resolve_jit_compile(model, method, jit_compile)
    num = images.shape[0]
    condition = model.condition_spec.check(condition, batch=num)
    temperature = arguments.check_temperature(temperature, num)
    seeds = per_image_seeds(seed, num)
    return draw(
        model,
        images,
        known,
        seeds,
        condition,
        temperature,
        method,
        jit_compile,
        teacher_forced_rows,
    )


def draw(
    model,
    images,
    known,
    seeds,
    condition,
    temperature,
    method="cached",
    jit_compile=False,
    teacher_forced_rows=True,
):
    """The sampling loop on checked tensors; traceable with an unknown batch.

    `sample` and `complete` check their arguments and call this; an exported
    serving function (which checks its requests in the graph) calls it too.

    Args:
        model: a pixel_keras model.
        images: float32 `(batch, height, width, channels)`, the known values.
        known: bool `(batch, height, width)`.
        seeds: int32 `(batch, 2)`, one stateless seed per image.
        condition: the model's condition, checked (int32 labels `(batch,)`,
            float32 `(batch, *conditional_shape)`), or None.
        temperature: float32 `(batch,)`, finite and > 0 (asserted in a
            graph).
        method: `"cached"` or `"naive"`.
        jit_compile: whether the cached loop is the model's XLA-compiled one
            (False in an export: TF Serving runs no XLA by default). Called
            eagerly, compiled loops run one at a time in the process (see
            `_XLA_LOOP_LOCK`).
        teacher_forced_rows: whether the cached loop first computes the rows
            above the first unknown pixel without draws (True: any `known`);
            False only where no pixel is known (sampling), to trace less.

    Returns:
        Images of `model.sample_dtype`.
    """
    # The entry points checked it; a graph's caller (an exported signature)
    # may not have: an infinite temperature would draw all-zero images.
    checks = arguments.temperature_assertions(temperature)
    if checks:
        with tf.control_dependencies(checks):
            temperature = tf.identity(temperature)
    noise = noise_per_image(model, seeds)
    loop = _loop(model, check_method(method), jit_compile, teacher_forced_rows)
    one_at_a_time = jit_compile and tf.executing_eagerly()
    with _XLA_LOOP_LOCK if one_at_a_time else contextlib.nullcontext():
        return _call_loop(loop, (images, known, condition, *noise, temperature))
