"""Where a cached loop chooses a sub-pixel's value: a hook for coders.

A sampler draws each sub-pixel from its pmf with noise. An entropy coder
needs the same loop with the draw replaced: the encoder takes each
sub-pixel's pmf and returns the image's true value (coding it with that
pmf), the decoder decodes the value from its stream given the pmf. Both then
run ONE traced loop, so that the pmfs the decoder computes from the pixels
it decoded are bit-identical to those the encoder coded with (SPEC.md,
section 9, "The trap").

The hook is a callable `choose(probabilities, row, col, channel) ->
values`, called while the loop is traced (so it adds ops, typically a
`tf.numpy_function`):

- `probabilities`: float32 `(batch, num_levels)`, the pmf of sub-pixel
  `channel` of pixel `(row, col)` of every image, given every value chosen
  before it (earlier pixels, and the earlier channels of this pixel); rows
  sum to 1 up to rounding and may hold zeros;
- `row`, `col`: int32 scalar tensors; `channel`: a Python int;
- `values`: float32 `(batch,)` integer values in `[0, num_levels - 1]`.

At run time the calls come in raster order, channel by channel (each pmf
reads the values chosen before it), which is the order a coder codes in.

A family's `build_cached_loop` reads the hook when it builds its loop
(`current()`), while `build_choosing_loop` holds it, and marks the loop it
returns with `chooses_values = True`. The shared sub-pixel loop
(`subpixel.build_loop`) and the PixelCNN++ loop do; a family built on
`subpixel.build_loop` gets it with no code of its own.
"""

import contextlib
import inspect
import threading

import tensorflow as tf

from pixel_keras.sampling.noise import noise_per_image

_ACTIVE = threading.local()


@contextlib.contextmanager
def choosing(choose):
    """Inside it, a cached loop being built replaces its draws by `choose`."""
    outer = getattr(_ACTIVE, "choose", None)
    _ACTIVE.choose = choose
    try:
        yield
    finally:
        _ACTIVE.choose = outer


def current():
    """The hook a loop being built must call instead of drawing, or None."""
    return getattr(_ACTIVE, "choose", None)


def build_choosing_loop(model, choose):
    """`model`'s cached loop, built with `choose` in place of its draws.

    The loop is the sampler's own (the same layers, caches and order of
    sums), not compiled by XLA as a whole (the hook is a host callback;
    a family may compile the pieces between two calls of it, as the
    PixelCNN++ loop does), and without a teacher-forced pass (no pixel is
    known: every value is chosen).

    Args:
        model: a pixel_keras model (see `pixel_keras.sampling`).
        choose: the hook (see the module docstring).

    Returns:
        The traced loop; call it with `run_choosing_loop`.

    Raises:
        ValueError: if the model's cached loop does not take a hook.
    """
    accepted = inspect.signature(model.build_cached_loop).parameters
    arguments = {"jit_compile": False, "teacher_forced_rows": False}
    with choosing(choose):
        loop = model.build_cached_loop(
            **{name: value for name, value in arguments.items() if name in accepted}
        )
    if not getattr(loop, "chooses_values", False):
        raise ValueError(
            f"The cached loop of {type(model).__name__} takes no value hook: its "
            "`build_cached_loop` must read `pixel_keras.sampling.choice.current()` "
            "and call it where it draws (as `subpixel.build_loop` does). "
            "Received: a loop without `chooses_values`"
        )
    return loop


def run_choosing_loop(model, loop, batch, condition=None):
    """Runs a loop from `build_choosing_loop` over a batch of `batch` images.

    No pixel is known, the temperature is 1 and the noise is ignored (zeros
    of the sampler's shapes), so every value is the hook's.

    Args:
        model: the model the loop was built for.
        loop: the loop.
        batch: int, the batch size.
        condition: the checked condition of the batch, or None.

    Returns:
        The chosen images, of `model.sample_dtype`.
    """
    images = tf.zeros([batch, *model.image_shape], tf.float32)
    known = tf.zeros([batch, *model.image_shape[:2]], tf.bool)
    # Zeros of the noise's shapes, from one image's noise: drawing a batch's
    # noise eagerly only to discard it cost a third of an 8x8 decode.
    noise = tuple(
        tf.zeros([batch, *n.shape[1:]], n.dtype)
        for n in noise_per_image(model, tf.zeros([1, 2], tf.int32))
    )
    return loop(images, known, condition, *noise, tf.ones([batch]))
