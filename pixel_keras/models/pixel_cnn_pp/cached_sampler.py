"""Cached sampling for PixelCNN++.

PixelCNN++ has two causal streams. The down-shifted one (`u`) at row `i`
reads only rows above `i`, so a whole row of it can be computed as soon as
the row above is complete: the sampler computes `u` one row at a time, for
every layer, at the start of each image row. The down-right-shifted one
(`ul`) at `(i, j)` also reads row `i` left of `j`, so it is computed one
position at a time, for every layer, as each pixel is drawn.

Every convolution of the network reads at most one row above its output
(kernels 2 x 3 and 2 x 2), so each convolution keeps only the row above its
input:

- in `u`, a *slot* with the previous row of the input; the new output row is
  the convolution over the two rows;
- in `ul`, a *buffer* of two rows, each with a zero column in front (the
  left padding): row `i` of a level is written into slot `i % 2`, and the
  other slot holds row `i - 1` (`above`). A position `(i, j)` writes
  `current[j]` and reads `above[j - 1 .. j]` and `current[j - 1 .. j]`, so
  a new row needs no copy: it overwrites the row before the one above,
  column by column, and its zero column stays zero. XLA writes `current`
  in place, without copying the buffer at every pixel, as long as every
  read of it is ordered after its write or before it by data
  (`GatedResNetBuffers.window`, in `models/gated_resnet_cache.py`, which
  PixelSNAIL's sampler shares). A spare column at the end takes the writes
  of a coarser level at the pixels where it is not visited. A gated block's
  buffers hold its convolutions' inputs, after the concat_elu, which is
  thus computed once per value.

Level `l` of the U-Net (height and width divided by `2 ** l`) has a row at
every `2 ** l`-th image row and a position at every `2 ** l`-th column of
it: position `(i, j)` of level `l` becomes computable exactly when image pixel
`(2**l i, 2**l j)` is drawn, and is computed then. The strided convolutions
read the finer level's slots and buffers; the transposed convolutions read
the coarser level's newest row (`u`) or its buffer of the newest row at
`j // 2` (`ul`), which holds the value computed at or before this pixel.

A pixel thus costs one position of every `ul` layer and a `1 / width` share
of a row of every `u` layer, where the naive loop recomputes the whole
network. The rows above a completion's first unknown pixel need no draws,
so `ul` is computed there a row at a time too (`_visit_known_row`: each
layer one matmul on its row of 2 x 2 windows), leaving the caches as the
pixel loop would; the pixel loop starts at that row. The draws consume the
same noise as the naive loop; the arithmetic
differs only in summation order (a matmul on a 2 x 2 window against a
convolution over the whole map), which can flip a draw only when its uniform
lies within rounding error of a boundary between two values.
"""

import tensorflow as tf

from pixel_keras.models.gated_resnet_cache import GatedResNetBuffers
from pixel_keras.models.gated_resnet_cache import at
from pixel_keras.models.gated_resnet_cache import cells
from pixel_keras.models.gated_resnet_cache import concat_elu
from pixel_keras.models.gated_resnet_cache import dense_weights
from pixel_keras.models.gated_resnet_cache import elu
from pixel_keras.models.gated_resnet_cache import put
from pixel_keras.models.gated_resnet_cache import window_weights
from pixel_keras.models.gated_resnet_cache import xla_dynamic_slices
from pixel_keras.models.logistic_mixture_head import pixel_values_of
from pixel_keras.models.pixel_cnn_pp.layer_names import OUTPUT
from pixel_keras.models.pixel_cnn_pp.layer_names import STEM_DOWN
from pixel_keras.models.pixel_cnn_pp.layer_names import STEM_DOWN_RIGHT_ABOVE
from pixel_keras.models.pixel_cnn_pp.layer_names import STEM_DOWN_RIGHT_LEFT
from pixel_keras.models.pixel_cnn_pp.layer_names import block_layer
from pixel_keras.models.pixel_cnn_pp.layer_names import stride_layer
from pixel_keras.sampling import choice
from pixel_keras.sampling import known_pixels


def build_loop(model, jit_compile=False, teacher_forced_rows=True):
    """The traced cached loop of a `PixelCNNPlusPlus`.

    Args:
        model: a built `PixelCNNPlusPlus`.
        jit_compile: whether XLA compiles the loop (every slice at a traced
            row or column is a static-size `at`, so it does). An export
            must not: TF Serving runs XLA only when told to.
        teacher_forced_rows: whether the rows above the first unknown pixel
            are computed in a teacher-forced pass (completions); `sample`,
            where no pixel is known, traces no such pass.

    Returns:
        A `tf.function` `loop(images, known, condition, component_noise,
        channel_noise, temperature)` to uint8 images: the signature and the
        draws of the naive per-pixel loop. Built inside
        `choice.choosing(choose)`, each sub-pixel's value is `choose`'s,
        given its conditional pmf (`DiscretizedLogisticMixture.channel_probs`),
        instead of a draw (`chooses_values` is then True).
    """
    network = _CachedNetwork(model, xla=bool(jit_compile))
    choose = choice.current()

    # Its control flow is explicit (`tf.while_loop`, `tf.cond`): autograph
    # would only wrap every call, and doubled the loop's tracing time.
    @tf.function(reduce_retracing=True, jit_compile=jit_compile, autograph=False)
    def loop(images, known, condition, component_noise, channel_noise, temperature):
        return network.sample(
            images,
            known,
            condition,
            component_noise,
            channel_noise,
            temperature,
            teacher_forced_rows,
            choose,
        )

    loop.chooses_values = choose is not None
    return loop


def outputs(model, images, condition=None, by_rows=True, compiled_pixels=False):
    """A `PixelCNNPlusPlus`'s outputs on `images`, computed as the cached
    sampler computes them: row by row in `u`; in `ul`, row by row as over
    the known rows of a completion (`by_rows=True`) or pixel by pixel as in
    sampling.

    This equals `model(images)` up to rounding; it is the sampler's
    exactness in a form that needs no random draws.

    Args:
        model: a built `PixelCNNPlusPlus`.
        images: `(batch, height, width, channels)` integer-valued images.
        condition: the model's condition (class labels `(batch,)` or
            values), else None.
        by_rows: whether `ul` is computed a row at a time (the known rows
            of a completion) or a pixel at a time (sampling).
        compiled_pixels: with `by_rows=False`, whether each pixel's visit
            is compiled by XLA alone, as in a coder's loop.

    Returns:
        float32 `(batch, height, width, num_params)`.
    """
    return _CachedNetwork(model).outputs(images, condition, by_rows, compiled_pixels)


class _CachedNetwork(GatedResNetBuffers):
    """A PixelCNN++'s layers, evaluated row by row and pixel by pixel.

    The state of the loops is a flat dict:

    - `"slot/<conv>"`: the previous row of a `u` convolution's input;
    - `"buffer/<conv>"`: `(batch, 2, width + 2, channels)`, the two rows
      of a `ul` convolution's input that its next position reads, in slots
      by row parity (`slot`); one slot, the newest row, for the
      transposed ones;
    - `"row/<block>"`: the current row of a `u` block's output, which the
      matching `ul` block reads as its skip input;
    - `"row/final_<level>"`: the newest row of a level's up pass in `u`;
    - `"row/stem_above"`: the `ul` stem's part from the row above;
    - `"images"`, `"xpad"`: the image, and its scaled form with the ones
      channel, padded by two rows on top and a column at each side.
    """

    def __init__(self, model, xla=False):
        # The transposed convolutions' buffers keep only their newest row.
        super().__init__(
            xla,
            newest_only=[
                stride_layer("up", level, "ul") for level in range(model.num_hierarchies - 1)
            ],
        )
        self.model = model
        self.height, self.width, self.channels = model.image_shape
        self.levels = model.num_hierarchies
        self.num_resnet = model.num_resnet
        self.filters = model.num_filters
        self.scale = 2.0 / (model.num_levels - 1)
        for level in range(self.levels):
            for name in self._blocks(level):
                kernel_size = model.get_layer(name).kernel_size
                if kernel_size is not None:
                    raise ValueError(
                        "The cached sampler needs the default PixelCNN++ kernels "
                        f"(2, 3) and (2, 2). Received: {name} kernel_size={kernel_size}"
                    )

    def _num_up_blocks(self, level):
        return self.num_resnet + (0 if level == self.levels - 1 else 1)

    def _blocks(self, level):
        return (
            [block_layer("down", level, s, i) for s in ("u", "ul") for i in range(self.num_resnet)]
            + [
                block_layer("up", level, s, i)
                for s in ("u", "ul")
                for i in range(self._num_up_blocks(level))
            ]
        )

    def _buffers(self, level):
        """The `ul` buffers whose input lives at `level`, by consumer."""
        blocks = [block_layer("down", level, "ul", i) for i in range(self.num_resnet)]
        blocks += [block_layer("up", level, "ul", i) for i in range(self._num_up_blocks(level))]
        names = [f"{block}/{conv}" for block in blocks for conv in ("first", "gate")]
        if level < self.levels - 1:
            names.append(stride_layer("down", level + 1, "ul"))
        return names

    # --- Weights ---------------------------------------------------------------

    def _read_weights(self, condition):
        """Every weight as a tensor, read once per call (not once per step)."""
        layer = self.model.get_layer
        vector = self.model.condition_spec.vector(condition)
        weights = {
            STEM_DOWN: dense_weights(layer(STEM_DOWN)),
            STEM_DOWN_RIGHT_ABOVE: dense_weights(layer(STEM_DOWN_RIGHT_ABOVE)),
            STEM_DOWN_RIGHT_LEFT: window_weights(layer(STEM_DOWN_RIGHT_LEFT)),
            "head": dense_weights(layer(OUTPUT)),
        }
        for level in range(self.levels):
            if level > 0:
                name = stride_layer("down", level, "u")
                weights[name] = dense_weights(layer(name))
                name = stride_layer("down", level, "ul")
                weights[name] = window_weights(layer(name))
            if level < self.levels - 1:
                name = stride_layer("up", level, "u")
                weights[name] = dense_weights(layer(name))
                kernel, bias = dense_weights(layer(stride_layer("up", level, "ul")))
                # (kh, kw, out, in) -> (kh, kw, in, out): tap (a, b) takes a
                # coarse value to the fine pixel (2i + a, 2j + b).
                weights[stride_layer("up", level, "ul")] = (
                    tf.transpose(kernel, [0, 1, 3, 2]),
                    bias,
                )
            for name in self._blocks(level):
                weights[name] = self.block_weights(layer(name), vector)
        return weights

    # --- The down-shifted stream, a row at a time --------------------------------

    @staticmethod
    def _row_conv(weights, above, current, strides=1):
        """A down-shifted 2 x k convolution's output row, from its input's
        rows `i - 1` and `i`, each `(batch, width, channels)`."""
        kernel, bias = weights
        side = (kernel.shape[1] - 1) // 2
        rows = tf.pad(
            tf.stack([above, current], axis=1), [[0, 0], [0, 0], [side, side], [0, 0]]
        )
        return tf.nn.conv2d(rows, kernel, strides=strides, padding="VALID")[:, 0] + bias

    def _row_block(self, state, name, weights, x, skip):
        """A gated block of `u` on one row; updates its slots."""
        weights = weights[name]
        x_above = state[f"slot/{name}/first"]
        state[f"slot/{name}/first"] = x
        hidden = self._row_conv(weights["first"], concat_elu(x_above), concat_elu(x))
        if skip is not None:
            kernel, bias = weights["skip"]
            hidden = hidden + (tf.tensordot(concat_elu(skip), kernel, 1) + bias)
        hidden = concat_elu(hidden)
        hidden_above = state[f"slot/{name}/gate"]
        state[f"slot/{name}/gate"] = hidden
        gate_kernel, gate_bias = weights["gate"]
        gates = self._row_conv((gate_kernel, 0.0), hidden_above, hidden)
        gates = gates + gate_bias[:, tf.newaxis]
        values, gate_logits = tf.split(gates, 2, axis=-1)
        output = x + values * tf.sigmoid(gate_logits)
        state[f"row/{name}"] = output
        return output

    def _visit_row(self, state, weights, level, row, finer_last):
        """Computes row `row` of `level` in `u`, then the coarser levels' rows
        that this image row reaches, then this level's up pass."""
        state = dict(state)
        if level == 0:
            # The stem reads image rows row - 2 and row - 1 (xpad has two rows
            # of padding on top); its down_shift makes row 0 zero.
            kernel, bias = weights[STEM_DOWN]
            stem = tf.nn.conv2d(at(state["xpad"], 1, row, 2), kernel, 1, "VALID")
            x = tf.where(row > 0, stem[:, 0] + bias, 0.0)
            kernel, bias = weights[STEM_DOWN_RIGHT_ABOVE]
            above = tf.nn.conv2d(at(state["xpad"], 1, row + 1, 1), kernel, 1, "VALID")
            state["row/stem_above"] = tf.where(row > 0, above[:, 0] + bias, 0.0)
        else:
            name = stride_layer("down", level, "u")
            x = self._row_conv(weights[name], state[f"slot/{name}"], finer_last, strides=2)
        activations = [x]
        for i in range(self.num_resnet):
            x = self._row_block(state, block_layer("down", level, "u", i), weights, x, None)
            activations.append(x)

        if level + 1 < self.levels:
            coarser = stride_layer("down", level + 1, "u")
            last = activations[-1]
            state = tf.cond(
                tf.equal(row % 2, 0),
                lambda: self._visit_row(state, weights, level + 1, row // 2, last),
                lambda: state,
            )
            # The coarser stride reads this row as its row above next time.
            state = dict(state)
            state[f"slot/{coarser}"] = last

        if level == self.levels - 1:
            x = activations.pop()
        else:
            # Row `row % 2` of the two fine rows that the coarser level's
            # newest row upsamples to. The transposed convolution takes
            # coarse column j through tap b to fine column 2 j + b - 1
            # (after its crop): even columns get tap 1 of j, odd ones tap 2
            # of j plus tap 0 of j + 1. One matmul for the three taps, where
            # XLA's transposed convolution of a row was a tenth as fast.
            kernel, bias = weights[stride_layer("up", level, "u")]
            coarse = state[f"row/final_{level + 1}"]
            # (kh, kw, out, in) -> taps of row row % 2: (in, kw * out).
            taps = tf.transpose(at(kernel, 0, row % 2), [2, 0, 1])
            taps = tf.reshape(taps, [taps.shape[0], -1])
            products = tf.reshape(
                tf.tensordot(coarse, taps, 1),
                [-1, coarse.shape[1], kernel.shape[1], self.filters],
            )
            following = tf.pad(products[:, 1:, 0], [[0, 0], [0, 1], [0, 0]])
            even, odd = products[:, :, 1], products[:, :, 2] + following
            x = tf.reshape(tf.stack([even, odd], 2), [-1, 2 * coarse.shape[1], self.filters])
            x = x + bias
        for i in range(self._num_up_blocks(level)):
            name = block_layer("up", level, "u", i)
            x = self._row_block(state, name, weights, x, activations.pop())
        state[f"row/final_{level}"] = x
        return state

    # --- The down-right-shifted stream, a position at a time ---------------------

    def _buffer_channels(self, name):
        """A buffer's channels: a block's convolutions read concat_elu of
        their input (twice the filters), the strided ones the input."""
        return 2 * self.filters if name.endswith(("/first", "/gate")) else self.filters

    def _level_writes(self, level):
        """The buffers that a visit of `level` itself writes: its blocks',
        the next strided convolution's, and the finer level's transposed
        one's."""
        names = list(self._buffers(level))
        if level > 0:
            names.append(stride_layer("up", level - 1, "ul"))
        return names

    def _written_buffers(self, level):
        """The buffers that a visit of `level` writes, coarser visits included."""
        names = self._level_writes(level)
        if level + 1 < self.levels:
            names += self._written_buffers(level + 1)
        return names

    def _visit_pixel(self, state, weights, level, row, col, finer_last, record=False):
        """Computes position `(row, col)` of `level` in `ul`, then the coarser
        positions that this pixel reaches, then this level's up pass.

        Level 0 writes its buffers into `state`, a dict that the caller
        owns (with `record`, it returns them in `writes` as the coarser
        levels do, and leaves `state` as it was). The coarser levels only
        read it: a visit returns what it writes, so that the conditionals of
        the coarser levels return a few values instead of passing every
        buffer through (which XLA copies, at every pixel). Each conditional
        returns its values as one tensor: XLA gives every output of a
        conditional a buffer of its own, and filled the unvisited branch's
        fifteen zero outputs with fifteen copies, at three pixels in four.

        Returns:
            `(writes, x)`: `writes` maps the name of each buffer of the
            coarser levels (with `record`, of this one too) that this visit
            and the coarser ones write to the value of the position's
            column at that buffer's level (where that level is not visited
            at this pixel, zeros or an old value, which `_apply_writes` puts
            in the spare column); `x`, this level's output of the up pass.
        """
        writes = {}
        # Level 0 writes at once (`window`), unless told to `record`.
        own_writes = None if level == 0 and not record else writes
        batch = tf.shape(state["images"])[0]
        if level == 0:
            # The stem's part from the row above, plus its 2 x 1 view of
            # column col - 1 in rows row - 1 and row (its right_shift makes
            # column 0 zero).
            kernel, bias = weights[STEM_DOWN_RIGHT_LEFT]
            left = tf.reshape(
                at(at(state["xpad"], 1, row + 1, 2), 2, col), [batch, kernel.shape[0]]
            )
            left = tf.where(col > 0, tf.matmul(left, kernel) + bias, 0.0)
            x = at(state["row/stem_above"], 1, col) + left
        else:
            # The strided 2 x 2 convolution, at the finer level's position
            # (2 row, 2 col): level 0 has written its value into the buffer,
            # unless it recorded it.
            name = stride_layer("down", level, "ul")
            kernel, bias = weights[name]
            # The finer level's row 2 row, just written.
            window = self.read_window(
                state[f"buffer/{name}"],
                self.slot(name, 2 * row),
                2 * col,
                None if level == 1 and not record else finer_last,
            )
            x = tf.matmul(window, kernel) + bias
        activations = [x]
        for i in range(self.num_resnet):
            name = block_layer("down", level, "u", i)
            x = self.pixel_block(
                state,
                own_writes,
                block_layer("down", level, "ul", i),
                weights,
                x,
                row,
                col,
                at(state[f"row/{name}"], 1, col),
            )
            activations.append(x)

        coarse = None
        if level + 1 < self.levels:
            last = activations[-1]
            coarser = stride_layer("down", level + 1, "ul")
            if own_writes is None:
                key = f"buffer/{coarser}"
                state[key] = self.write(state[key], self.slot(coarser, row), col, last)
            else:
                writes[coarser] = last
            coarser_names = self._written_buffers(level + 1)
            sizes = [self._buffer_channels(name) for name in coarser_names]
            up_name = stride_layer("up", level, "ul")

            def visited():
                coarser_writes, _ = self._visit_pixel(
                    state, weights, level + 1, row // 2, col // 2, last, record
                )
                return tf.concat([coarser_writes[name] for name in coarser_names], axis=-1)

            def not_visited():
                # The coarser level's newest value at (row // 2, col // 2),
                # from an earlier pixel, read here, where XLA orders the
                # read before the buffer's write; zeros for the others, of
                # the values' shapes (a static batch stays static).
                newest = state[f"buffer/{up_name}"]
                zeros = tf.zeros_like(last[:, :1])
                values = [
                    cells(newest, 0, col // 2 + 1) if name == up_name else tf.tile(zeros, [1, size])
                    for name, size in zip(coarser_names, sizes)
                ]
                return tf.concat(values, axis=-1)

            coarser_values = tf.cond(self._visited(row, col, 1), visited, not_visited)
            writes.update(zip(coarser_names, tf.split(coarser_values, sizes, axis=-1)))
            coarse = writes[up_name]

        if level == self.levels - 1:
            x = activations.pop()
        else:
            # Tap (row % 2, col % 2) of the coarser level's newest value.
            kernel, bias = weights[stride_layer("up", level, "ul")]
            tap = at(at(kernel, 0, row % 2), 0, col % 2)
            x = tf.matmul(coarse, tap) + bias
        for i in range(self._num_up_blocks(level)):
            above = at(state[f"row/{block_layer('up', level, 'u', i)}"], 1, col)
            skip = tf.concat([above, activations.pop()], axis=-1)
            x = self.pixel_block(
                state, own_writes, block_layer("up", level, "ul", i), weights, x, row, col, skip
            )
        if level > 0:
            writes[stride_layer("up", level - 1, "ul")] = x
        return writes, x

    @staticmethod
    def _visited(row, col, levels):
        """Whether the position `(row, col)` of a level makes the level
        `levels` coarser than it computable: `row` and `col` multiples of
        `2 ** levels`."""
        step = 2**levels
        return tf.logical_and(tf.equal(row % step, 0), tf.equal(col % step, 0))

    def _apply_writes(self, state, writes, row, col, first_level=1):
        """The state after image pixel `(row, col)`'s visits: each buffer of
        the levels from `first_level` on written at its level's column,
        where its level was visited."""
        state = dict(state)
        for level in range(first_level, self.levels):
            visited = None if level == 0 else self._visited(row, col, level)
            for name in self._level_writes(level):
                key = f"buffer/{name}"
                slot = self.slot(name, row // 2**level)
                state[key] = self.write(state[key], slot, col // 2**level, writes[name], visited)
        return state

    # --- Known rows: the down-right-shifted stream a whole row at a time -----------

    def _visit_known_row(self, state, weights, level, row, finer_row):
        """`_visit_pixel` at every column of row `row` of `level`, all of whose
        pixels are known: each layer's row is one matmul on its windows,
        where the pixel loop makes one per column. Leaves the state as the
        pixel loop leaves it at the end of the row.

        Returns the new state and this level's output row of the up pass,
        `(batch, width, filters)`.
        """
        state = dict(state)
        width = self.width >> level
        if level == 0:
            kernel, bias = weights[STEM_DOWN_RIGHT_LEFT]
            # The 2 x 1 view of column col - 1 in image rows row - 1 and row.
            rows = at(state["xpad"], 1, row + 1, 2)[:, :, :width]
            left = tf.reshape(tf.transpose(rows, [0, 2, 1, 3]), [-1, width, kernel.shape[0]])
            left = tf.tensordot(left, kernel, 1) + bias
            left = tf.where(tf.range(width)[:, tf.newaxis] > 0, left, 0.0)
            x = state["row/stem_above"] + left
        else:
            name = stride_layer("down", level, "ul")
            kernel, bias = weights[name]
            # The finer level's row 2 row is `finer_row`; its row above:
            above = at(state[f"buffer/{name}"], 1, 1 - self.slot(name, 2 * row))
            windows = self.row_windows(above, finer_row)[:, : 2 * width : 2]
            x = tf.tensordot(windows, kernel, 1) + bias
        activations = [x]
        for i in range(self.num_resnet):
            x = self.known_row_block(
                state,
                block_layer("down", level, "ul", i),
                weights,
                x,
                row,
                state[f"row/{block_layer('down', level, 'u', i)}"],
            )
            activations.append(x)

        if level + 1 < self.levels:
            coarser = stride_layer("down", level + 1, "ul")
            last = activations[-1]
            self.write_row(state, coarser, row, last)
            state = tf.cond(
                tf.equal(row % 2, 0),
                lambda: self._visit_known_row(state, weights, level + 1, row // 2, last)[0],
                lambda: state,
            )
            state = dict(state)

        if level == self.levels - 1:
            x = activations.pop()
        else:
            # Taps (row % 2, 0) and (row % 2, 1) of the coarser level's newest
            # row, interleaved: fine column col reads coarse col // 2.
            kernel, bias = weights[stride_layer("up", level, "ul")]
            coarse = at(state[f"buffer/{stride_layer('up', level, 'ul')}"], 1, 0)
            taps = at(kernel, 0, row % 2)
            fine = tf.stack(
                [tf.tensordot(coarse[:, 1:], taps[column], 1) for column in (0, 1)], 2
            )
            x = tf.reshape(fine, [-1, 2 * fine.shape[1], fine.shape[-1]])[:, :width] + bias
        for i in range(self._num_up_blocks(level)):
            above = state[f"row/{block_layer('up', level, 'u', i)}"]
            skip = tf.concat([above, activations.pop()], axis=-1)
            x = self.known_row_block(
                state, block_layer("up", level, "ul", i), weights, x, row, skip
            )
        if level > 0:
            self.write_row(state, stride_layer("up", level - 1, "ul"), row, x)
        return state, x

    # --- The loop ------------------------------------------------------------------

    def _compiled_pixel(self, weights):
        """`pixel(row, col, state) -> (writes, params)`: a pixel's visit of
        every level and its parameters, compiled by XLA on its own, for a
        loop that XLA cannot compile whole (a coder's, whose hook is a host
        callback between two pixels).

        Run op by op, a visit is hundreds of small ops; compiled, one call
        (at 28 x 28, batch 100: 1.3 ms against 4.0 ms for the uncompiled
        sampler's whole step, 2 AMD EPYC cores). It only reads the state and
        returns what it writes, level 0's included, which the loop then
        writes in place (`_apply_writes`): buffers passed through a compiled
        function would be copied at every pixel. Its slices are XLA's
        dynamic ones (`xla_dynamic_slices`), so that `row` and `col` are not
        compile-time constants, which compiled it anew at every pixel.
        """

        @tf.function(jit_compile=True, autograph=False)
        def pixel(row, col, state):
            with xla_dynamic_slices():
                writes, outputs = self._visit_pixel(
                    dict(state), weights, 0, row, col, None, record=True
                )
            kernel, bias = weights["head"]
            return writes, tf.matmul(elu(outputs), kernel) + bias

        return pixel

    def _initial_state(self, images):
        batch = tf.shape(images)[0]
        state = {"images": images}
        state["xpad"] = tf.pad(
            self._scaled(images), [[0, 0], [2, 0], [1, 1], [0, 0]]
        )
        for level in range(self.levels):
            width = self.width >> level
            row = tf.zeros([batch, width, self.filters])
            for i in range(self.num_resnet):
                name = block_layer("down", level, "u", i)
                state[f"slot/{name}/first"] = row
                state[f"slot/{name}/gate"] = tf.zeros([batch, width, 2 * self.filters])
                state[f"row/{name}"] = row
            for i in range(self._num_up_blocks(level)):
                name = block_layer("up", level, "u", i)
                state[f"slot/{name}/first"] = row
                state[f"slot/{name}/gate"] = tf.zeros([batch, width, 2 * self.filters])
                state[f"row/{name}"] = row
            state[f"row/final_{level}"] = row
            if level > 0:
                state[f"slot/{stride_layer('down', level, 'u')}"] = tf.zeros(
                    [batch, 2 * width, self.filters]
                )
            # Rows with a zero column in front and a spare one at the end.
            for name in self._buffers(level):
                channels = self._buffer_channels(name)
                state[f"buffer/{name}"] = tf.zeros([batch, 2, width + 2, channels])
            if level > 0:
                # The coarse values that the finer level's transposed
                # convolution reads (its newest row only).
                state[f"buffer/{stride_layer('up', level - 1, 'ul')}"] = tf.zeros(
                    [batch, 1, width + 2, self.filters]
                )
        state["row/stem_above"] = tf.zeros([batch, self.width, self.filters])
        return state

    def _scaled(self, images):
        """Pixel values in [-1, 1], with the model's channel of ones."""
        x = images * self.scale - 1.0
        return tf.concat([x, tf.ones_like(x[..., :1])], axis=-1)

    def sample(
        self,
        images,
        known,
        condition,
        component_noise,
        channel_noise,
        temperature,
        teacher_forced_rows=True,
        choose=None,
    ):
        """Draws the unknown pixels of `images` (or has `choose` choose
        them, channel by channel, from their pmfs); see `build_loop`."""

        draw = pixel_values_of(
            self.model, component_noise, channel_noise, temperature, choose
        )
        images, _ = self._run(
            images, known, condition, draw, teacher_forced_rows, compiled_pixels=choose is not None
        )
        return tf.cast(images, self.model.sample_dtype)

    def outputs(self, images, condition=None, by_rows=True, compiled_pixels=False):
        """The model's outputs on `images`, computed as the sampler does.

        Every pixel's value is given, so this runs the cached computation
        over the given images: it must equal `model(images)` up to rounding,
        which is the sampler's exactness in a form that needs no random
        draws. `by_rows` marks every pixel known (the teacher-forced pass
        over known rows of a completion); otherwise unknown (the pixel loop,
        whose draws return the given values), with `compiled_pixels` as a
        coder's loop runs it.

        Returns:
            float32 `(batch, height, width, num_params)`.
        """
        images = tf.cast(images, tf.float32)
        known = tf.fill(tf.shape(images)[:3], by_rows)
        _, params = self._run(
            images,
            known,
            condition,
            lambda row, col, params: at(at(images, 1, row), 1, col),
            compiled_pixels=compiled_pixels,
        )
        return params

    def _run(
        self, images, known, condition, draw, teacher_forced_rows=True, compiled_pixels=False
    ):
        """The row and pixel loops; `draw(row, col, params)` gives a pixel's
        values, which known pixels override. With `teacher_forced_rows`, the
        rows above the first unknown pixel are computed without draws first.
        With `compiled_pixels` (a loop that XLA does not compile: a coder's),
        each pixel's network is compiled by XLA alone (`_compiled_pixel`).
        Returns the images and every pixel's parameters."""
        weights = self._read_weights(condition)
        compiled_pixel = self._compiled_pixel(weights) if compiled_pixels else None

        def pixel_step(row, col, state, params_columns):
            if compiled_pixel is not None:
                writes, params = compiled_pixel(row, col, state)
                state = self._apply_writes(state, writes, row, col, first_level=0)
            else:
                state = dict(state)  # level 0 writes into it
                writes, outputs = self._visit_pixel(state, weights, 0, row, col, None)
                state = self._apply_writes(state, writes, row, col)
                kernel, bias = weights["head"]
                params = tf.matmul(elu(outputs), kernel) + bias
            params_columns = params_columns.write(col, params)
            drawn = draw(row, col, params)
            # Known values from the given images, not from the state's: a
            # read where the state is written would cost XLA a copy of it.
            values = tf.where(
                at(at(known, 1, row), 1, col)[:, tf.newaxis],
                at(at(images, 1, row), 1, col),
                drawn,
            )
            state = dict(state)
            state["images"] = put(state["images"], [row, col], values, self.xla)
            # xpad has two rows of padding on top and a column at each side.
            state["xpad"] = put(
                state["xpad"], [row + 2, col + 1], self._scaled(values), self.xla
            )
            return state, params_columns

        def row_step(row, state, params_rows):
            state = self._visit_row(state, weights, 0, row, None)
            _, state, params_columns = tf.while_loop(
                lambda col, *_: col < self.width,
                lambda col, state, params_columns: (
                    col + 1,
                    *pixel_step(row, col, state, params_columns),
                ),
                (tf.constant(0), state, tf.TensorArray(tf.float32, size=self.width)),
                parallel_iterations=1,
            )
            params = params_columns.stack()
            params.set_shape([self.width, *params.shape[1:]])
            return row + 1, state, params_rows.write(row, params)

        def known_row_step(row, state, params_rows):
            state = self._visit_row(state, weights, 0, row, None)
            state, outputs = self._visit_known_row(state, weights, 0, row, None)
            kernel, bias = weights["head"]
            params = tf.tensordot(elu(outputs), kernel, 1) + bias
            return row + 1, state, params_rows.write(row, tf.transpose(params, [1, 0, 2]))

        # The rows above the first one with an unknown pixel (in any image)
        # are known: one teacher-forced pass a row at a time fills the caches,
        # and the pixel loop starts at that row.
        # Each row's parameters, (width, batch, num_params).
        params_rows = tf.TensorArray(tf.float32, size=self.height)
        loop_vars = (tf.constant(0), self._initial_state(images), params_rows)
        if teacher_forced_rows:
            first_unknown_row = known_pixels.first_unknown_row(known)
            loop_vars = tf.while_loop(
                lambda row, *_: row < first_unknown_row,
                known_row_step,
                loop_vars,
                parallel_iterations=1,
            )
        _, state, params_rows = tf.while_loop(
            lambda row, *_: row < self.height, row_step, loop_vars, parallel_iterations=1
        )
        params = tf.transpose(params_rows.stack(), [2, 0, 1, 3])
        return state["images"], params
