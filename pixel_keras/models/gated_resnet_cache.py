"""What the cached loops of the gated-resnet families share.

PixelCNN++ (`models/pixel_cnn_pp/`) and PixelSNAIL (`models/pixel_snail/`)
are built of the same `GatedResNet`s, and their cached samplers evaluate
them the same way. Kept here, once, so that neither family's folder imports
the other's:

- slices and writes at a traced row or column that XLA compiles to dynamic
  slices and in-place updates (`at`, `cells`, `put`);
- the activations as the loops compute them (`elu`, `concat_elu`);
- a layer's weights as tensors (`dense_weights`, `window_weights`), read
  once per call: a weight-normalized layer's `kernel` is its effective
  kernel, so the loops need nothing else for it;
- `GatedResNetBuffers`: a down-right-shifted gated block at one position
  (or one known row) from buffers of its convolutions' inputs in the two
  newest rows. PixelCNN++'s sampler's module docstring gives the schedule
  (slots by row parity, the zero column in front, the spare column at the
  end, why a value's concat_elu is stored rather than the value).
"""

import contextlib
import threading

import tensorflow as tf
from tensorflow.compiler.tf2xla.python import xla as tf2xla

# Set inside `xla_dynamic_slices()`.
_SLICING = threading.local()


@contextlib.contextmanager
def xla_dynamic_slices():
    """Inside it, `at` and `cells` trace XLA's dynamic slice, not `tf.slice`.

    For a step that is compiled by XLA on its own (a `tf.function` with
    `jit_compile=True` called at every pixel of a loop that XLA does not
    compile): XLA takes the start of a `tf.slice` as a compile-time
    constant where it can, and a function's argument can be one, so such a
    step was compiled again for every pixel (1 to 4 s each). A dynamic
    slice's start is never one. Without XLA there is no kernel for it, so
    the loops that XLA does not compile keep `tf.slice`.
    """
    outer = getattr(_SLICING, "dynamic", False)
    _SLICING.dynamic = True
    try:
        yield
    finally:
        _SLICING.dynamic = outer


def _slice(x, begin, sizes):
    """`tf.slice(x, begin, sizes)`, or XLA's dynamic slice where
    `xla_dynamic_slices()` asks for it."""
    if getattr(_SLICING, "dynamic", False):
        return tf2xla.dynamic_slice(x, begin, sizes)
    return tf.slice(x, begin, sizes)


def at(x, axis, start, size=None):
    """`x[..., start : start + size, ...]` along `axis` (without `size`: the
    one index `start`, the axis dropped), for a traced `start`.

    A `tf.slice` with a static size: XLA compiles it to a dynamic slice,
    where a strided slice with traced bounds has no static shape. The other
    axes are sliced whole by their sizes, not by -1: with -1 and a traced
    start, XLA pads the whole input to twice its size before slicing it, at
    every pixel where the input changes from one pixel to the next.
    """
    begin = [0] * x.shape.rank
    begin[axis] = start
    sizes = [tf.shape(x)[i] if d is None else d for i, d in enumerate(x.shape)]
    sizes[axis] = 1 if size is None else size
    sliced = _slice(x, tf.stack(begin), tf.stack(sizes))
    return tf.squeeze(sliced, axis) if size is None else sliced


def cells(buffer, slot, col, size=None):
    """`buffer[:, slot, col : col + size]` (without `size`: the one column
    `col`, the axis dropped) of a buffer, for a traced slot and column: one
    static-size slice, as `at` takes one."""
    sizes = [tf.shape(buffer)[i] if d is None else d for i, d in enumerate(buffer.shape)]
    sizes[1:3] = [1, 1 if size is None else size]
    sliced = _slice(buffer, tf.stack([0, slot, col, 0]), tf.stack(sizes))
    return sliced[:, 0, 0] if size is None else sliced[:, 0]


def put(x, starts, value, xla):
    """`x` with `x[:, starts[0], .., starts[k - 1]] = value`, for traced
    `starts` (the batch axis and the axes after the `k` indexed ones whole).

    Under XLA, a dynamic update slice, which XLA does in place; TensorFlow's
    strided-slice update (what runs without XLA) needs compile-time
    constant bounds there, and a `tensor_scatter_nd_update` with one index
    per image compiles to a scatter that made the pixel loop about a third
    slower.
    """
    rank = x.shape.rank
    for _ in starts:
        value = tf.expand_dims(value, 1)
    trailing = [0] * (rank - 1 - len(starts))
    if xla:
        return tf2xla.dynamic_update_slice(x, value, tf.stack([0, *starts, *trailing]))
    # Mask bits of the axes taken whole: the batch and the trailing ones.
    whole = 1 | sum(1 << axis for axis in range(len(starts) + 1, rank))
    return tf.raw_ops.TensorStridedSliceUpdate(
        input=x,
        begin=tf.stack([0, *starts, *trailing]),
        end=tf.stack([0, *[start + 1 for start in starts], *trailing]),
        strides=[1] * rank,
        value=value,
        begin_mask=whole,
        end_mask=whole,
    )


def elu(x):
    """`tf.nn.elu`, as TensorFlow's own kernel computes it: `exp(x) - 1` for
    `x < 0`. XLA lowers `tf.nn.elu` to `expm1`, which took twice as long as
    this in the loop, where the ELUs were an eighth of a pixel's time."""
    return tf.where(x > 0.0, x, tf.exp(tf.minimum(x, 0.0)) - 1.0)


def concat_elu(x):
    """`concat_elu` on the last axis."""
    return elu(tf.concat([x, -x], axis=-1))


def dense_weights(layer):
    """`(kernel, bias)` of a convolution or dense layer, as tensors."""
    return tf.convert_to_tensor(layer.kernel), tf.convert_to_tensor(layer.bias)


def window_weights(layer):
    """`(kernel, bias)` of a 2 x k kernel as a matmul on a flat window: the
    input at the kernel's taps in raster order, each with all its channels
    (for a gated block's convolutions, the concat_elu its buffers hold)."""
    kernel, bias = dense_weights(layer)
    return tf.reshape(kernel, [-1, kernel.shape[-1]]), bias


class GatedResNetBuffers:
    """Down-right-shifted gated blocks, a position or a known row at a time.

    The loops' state is a flat dict; a buffer `"buffer/<name>"` is
    `(batch, 2, width + 2, channels)`: the two newest rows of a 2 x 2
    convolution's input, in slots by row parity (`slot`), each with a zero
    column in front (the left padding) and a spare column at the end (the
    writes of a coarser level at the pixels where it is not visited).

    Args:
        xla: whether the loop is compiled by XLA (which picks how a value is
            written into a buffer, `put`).
        newest_only: names of buffers that keep only their newest row (one
            slot): PixelCNN++'s transposed convolutions'.
    """

    def __init__(self, xla, newest_only=()):
        self.xla = xla
        self.newest_only = frozenset(newest_only)

    def slot(self, name, row):
        """The slot of buffer `name` that row `row` of its level is written
        into; the other slot holds row `row - 1`."""
        return 0 if name in self.newest_only else row % 2

    # --- Weights ---------------------------------------------------------------

    @staticmethod
    def block_weights(block, condition_vector=None):
        """A `GatedResNet`'s weights as the loops use them, read once.

        Returns:
            A dict: `"first"` and `"gate"`, `(kernel, bias)` of its
            convolutions (flat windows for a down-right-shifted block, whose
            buffers hold the concat_elu, tap by tap); the gate bias is per
            image, `(batch | 1, 2 filters)`, with the condition vector's
            term; `"skip"`, `(kernel, bias)` of its skip projection or None;
            `"map"`, the `(c, 2 filters)` kernel of its condition map's 1 x 1
            projection or None (its term depends on the position:
            `pixel_block`'s `condition_value`).
        """
        if block.shift == "down_right":
            first = window_weights(block.first_conv)
            gate_kernel, gate_bias = window_weights(block.gate_conv)
        else:
            first = dense_weights(block.first_conv)
            gate_kernel, gate_bias = dense_weights(block.gate_conv)
        gate_bias = gate_bias[tf.newaxis]
        if block.condition_projection is not None:
            # One gate bias per image: the block's bias and its condition's
            # term.
            kernel = tf.convert_to_tensor(block.condition_projection.kernel)
            gate_bias = gate_bias + tf.matmul(condition_vector, kernel)
        skip = None
        if block.skip_projection is not None:
            skip = dense_weights(block.skip_projection)
        condition_map = getattr(block, "condition_map_projection", None)
        if condition_map is not None:
            condition_map = tf.convert_to_tensor(condition_map.kernel)
        return {
            "first": first,
            "gate": (gate_kernel, gate_bias),
            "skip": skip,
            "map": condition_map,
        }

    # --- One position ------------------------------------------------------------

    def window(self, state, writes, name, row, col, value):
        """Puts `value` at position `(row, col)` of buffer `name` and returns
        the 2 x 2 window ending there (`read_window`).

        With `writes` None (the finest level), the value is written into
        `state` at once and the window read from the written row: a read of
        `current` before its write made XLA copy the whole row at every
        pixel, and a separate `left` value cost two copies. Otherwise (a
        coarser level, inside a conditional) the write is recorded in
        `writes` for after the conditional, which orders it after this read.
        """
        key = f"buffer/{name}"
        slot = self.slot(name, row)
        if writes is None:
            state[key] = self.write(state[key], slot, col, value)
            return self.read_window(state[key], slot, col)
        writes[name] = value
        return self.read_window(state[key], slot, col, value)

    @staticmethod
    def read_window(buffer, slot, col, value=None):
        """The 2 x 2 window ending at column `col` of the row in slot `slot`
        of a buffer: `(batch, 4 * channels)`, the taps in raster order. The
        value at `col` is `value`, or (None) read from the row, where it is
        written."""
        channels = buffer.shape[-1]
        above = cells(buffer, 1 - slot, col, 2)
        if value is None:
            rows = tf.concat([above, cells(buffer, slot, col, 2)], axis=1)
            return tf.reshape(rows, [-1, 4 * channels])
        top = tf.reshape(above, [-1, 2 * channels])
        return tf.concat([top, cells(buffer, slot, col), value], axis=-1)

    def write(self, buffer, slot, col, value, visited=None):
        """Writes `value` at column `col` of the row in slot `slot` (where
        `visited`, a boolean scalar, if given)."""
        # Buffers keep a zero column in front: column `col` is at `col + 1`.
        index = col + 1
        if visited is not None:
            # Unvisited, the value goes to the spare column at the end, which
            # nothing reads: writing the old value back instead would read
            # the buffer where it is written, which XLA cannot do in place.
            index = tf.where(visited, index, buffer.shape[2] - 1)
        return put(buffer, [slot, index], value, self.xla)

    def pixel_block(
        self, state, writes, name, weights, x, row, col, skip, condition_value=None
    ):
        """A down-right-shifted gated block at one position; writes its
        buffers as `window` says.

        Args:
            state: the loop's state (its buffers).
            writes: None, or a dict that records the buffers' writes
                (`window`).
            name: the block's name; `weights[name]` its `block_weights`.
            x: `(batch, filters)`, the block's input at the position.
            row, col: the position, scalars.
            skip: `(batch, any)` skip input, or None.
            condition_value: `(batch, c)`, the condition map's value at the
                position (its nearest-upsampled value), for a block with a
                condition map; else None.

        Returns:
            `(batch, filters)`, the block's output.
        """
        weights = weights[name]
        # Each value's concat_elu is computed once, where it is written.
        window = self.window(state, writes, f"{name}/first", row, col, concat_elu(x))
        kernel, bias = weights["first"]
        hidden = tf.matmul(window, kernel) + bias
        if skip is not None:
            kernel, bias = weights["skip"]
            hidden = hidden + (tf.matmul(concat_elu(skip), kernel) + bias)
        hidden = concat_elu(hidden)
        window = self.window(state, writes, f"{name}/gate", row, col, hidden)
        kernel, bias = weights["gate"]
        gates = tf.matmul(window, kernel) + bias
        if condition_value is not None:
            gates = gates + tf.matmul(condition_value, weights["map"])
        values, gate_logits = tf.split(gates, 2, axis=-1)
        return x + values * tf.sigmoid(gate_logits)

    # --- A known row at once -----------------------------------------------------

    @staticmethod
    def row_windows(above, values):
        """The 2 x 2 windows ending at every column of a row whose values are
        all known: `(batch, width, 4 * channels)`, each laid out as
        `read_window` lays out one.

        Args:
            above: `(batch, width + 2, channels)`, the row above with its zero
                column in front and its spare column (a buffer's `above`).
            values: `(batch, width, channels)`, the row itself.
        """
        width = values.shape[1]
        left = tf.pad(values, [[0, 0], [1, 0], [0, 0]])[:, :width]
        return tf.concat([above[:, :width], above[:, 1 : width + 1], left, values], -1)

    def write_row(self, state, name, row, values):
        """Writes `values`, `(batch, width, channels)`, as row `row` of
        buffer `name` (in `state`); returns the row above it, with its zero
        and spare columns, as `row_windows` takes it (None for a buffer of
        the newest row only)."""
        key = f"buffer/{name}"
        row_values = tf.pad(values, [[0, 0], [1, 1], [0, 0]])
        if name in self.newest_only:
            state[key] = row_values[:, tf.newaxis]
            return None
        slot = self.slot(name, row)
        above = at(state[key], 1, 1 - slot)
        # A new buffer made of the two rows, in their slots: writing the row
        # in place beside this read of the buffer, which nothing orders,
        # would make XLA copy the buffer first.
        state[key] = tf.where(
            tf.equal(slot, 0),
            tf.stack([row_values, above], axis=1),
            tf.stack([above, row_values], axis=1),
        )
        return above

    def known_row_block(self, state, name, weights, x, row, skip, condition_row=None):
        """`pixel_block` at every column of a known row at once: `x` and
        `skip` are `(batch, width, ...)`, `condition_row` the condition
        map's values on the row, `(batch, width, c)`, or None."""
        weights = weights[name]
        x_celu = concat_elu(x)
        above = self.write_row(state, f"{name}/first", row, x_celu)
        kernel, bias = weights["first"]
        hidden = tf.tensordot(self.row_windows(above, x_celu), kernel, 1) + bias
        if skip is not None:
            kernel, bias = weights["skip"]
            hidden = hidden + (tf.tensordot(concat_elu(skip), kernel, 1) + bias)
        hidden = concat_elu(hidden)
        above = self.write_row(state, f"{name}/gate", row, hidden)
        kernel, bias = weights["gate"]
        # One gate bias per image: (batch, 1, 2 filters) against the row.
        gates = tf.tensordot(self.row_windows(above, hidden), kernel, 1)
        gates = gates + bias[:, tf.newaxis]
        if condition_row is not None:
            gates = gates + tf.tensordot(condition_row, weights["map"], 1)
        values, gate_logits = tf.split(gates, 2, axis=-1)
        return x + values * tf.sigmoid(gate_logits)
