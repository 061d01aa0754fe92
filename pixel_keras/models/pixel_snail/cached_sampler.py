"""Cached sampling for PixelSNAIL.

PixelSNAIL has one stream, PixelCNN++'s down-right-shifted one, at one
resolution, and an attention at the end of every block. A pixel costs:

- the stem: its part from the row above (a 1 x 3 convolution of image row
  `i - 1`) once per row, its part from the pixel to the left once per pixel;
- every gated resnet at one position, with PixelCNN++'s buffers of its
  convolutions' inputs (the two newest rows, by row parity; see the module
  docstring of `pixel_cnn_pp/cached_sampler.py`), whose code this module
  reuses;
- the 1 x 1 gated blocks (query, content, merge) at one position;
- each attention once, for the new position only: its query against a key
  and value cache of every position, `(batch, height, width, dims)`, masked
  to the positions before it (`causal_attention.attend`, the layer's own
  arithmetic). The keys and values of a position read its pixel, so they are
  computed after the pixel is drawn (or given), from the features the
  pixel's forward pass kept, and written into the cache at that position:
  the cache grows by one position per step.

The rows above a completion's first unknown pixel are known: each is
computed a row at a time (every resnet one matmul on its row of 2 x 2
windows, as PixelCNN++'s row pass; each attention the row's queries at
once, after the row's keys and values are written: the mask keeps every
query to the positions before it), leaving the caches as the pixel loop
would, and the pixel loop starts at the first unknown row. The draws consume
the same noise as the naive loop; the arithmetic differs only in summation
order.
"""

import tensorflow as tf

from pixel_keras.layers.causal_attention import attend
from pixel_keras.layers.causal_attention import background_planes
from pixel_keras.layers.causal_attention import causal_mask
from pixel_keras.models.pixel_cnn_pp import cached_sampler as pixel_cnn_pp_cache
from pixel_keras.models.pixel_snail.layer_names import OUTPUT
from pixel_keras.models.pixel_snail.layer_names import STEM_ABOVE
from pixel_keras.models.pixel_snail.layer_names import STEM_LEFT
from pixel_keras.models.pixel_snail.layer_names import attention_layer
from pixel_keras.models.pixel_snail.layer_names import content_layer
from pixel_keras.models.pixel_snail.layer_names import merge_layer
from pixel_keras.models.pixel_snail.layer_names import query_layer
from pixel_keras.models.pixel_snail.layer_names import resnet_layer
from pixel_keras.sampling import choice
from pixel_keras.sampling import known_pixels

_at = pixel_cnn_pp_cache._at
_put = pixel_cnn_pp_cache._put
_celu = pixel_cnn_pp_cache._celu
_elu = pixel_cnn_pp_cache._elu
_conv = pixel_cnn_pp_cache._conv
_window = pixel_cnn_pp_cache._window


def build_loop(model, jit_compile=False, teacher_forced_rows=True):
    """The traced cached loop of a `PixelSNAIL`.

    Args:
        model: a built `PixelSNAIL`.
        jit_compile: whether XLA compiles the loop. An export must not.
        teacher_forced_rows: whether the rows above the first unknown pixel
            are computed in a teacher-forced pass (completions).

    Returns:
        A `tf.function` `loop(images, known, condition, component_noise,
        channel_noise, temperature)` to uint8 images: the signature and the
        draws of the naive per-pixel loop. Built inside
        `choice.choosing(choose)`, each sub-pixel's value is `choose`'s,
        given its conditional pmf, instead of a draw (`chooses_values` is
        then True).
    """
    network = _CachedNetwork(model, xla=bool(jit_compile))
    choose = choice.current()

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


def outputs(model, images, condition=None, by_rows=True):
    """A `PixelSNAIL`'s outputs on `images`, computed as the cached sampler
    computes them: a row at a time (`by_rows`, the known rows of a
    completion) or a pixel at a time (sampling).

    This equals `model(images)` up to rounding; it is the sampler's
    exactness in a form that needs no random draws.

    Returns:
        float32 `(batch, height, width, num_params)`.
    """
    return _CachedNetwork(model).outputs(images, condition, by_rows)


class _GatedResNetCaches(pixel_cnn_pp_cache._CachedNetwork):
    """PixelCNN++'s caches of a down-right-shifted gated block (`_pixel_block`,
    `_known_row_block`, their buffers and `_block_weights`), at one
    resolution: every buffer keeps two rows, by row parity."""

    def __init__(self, xla):  # PixelCNN++'s levels and names are not needed
        self.xla = xla
        self.newest_only = frozenset()


def _dot(x, kernel):
    """`x @ kernel` on the last axis of a `(batch, dims)` or `(batch, width,
    dims)` tensor (a 2-D matmul either way: no batch to broadcast)."""
    return tf.tensordot(x, kernel, 1)


def _pointwise_block(weights, x, skip=None):
    """A 1 x 1 gated block (`GatedResNet(kernel_size=(1, 1))`) on one position
    `(batch, dims)` or one row `(batch, width, dims)`."""
    kernel, bias = weights["first"]
    hidden = _dot(_celu(x), kernel) + bias
    if skip is not None:
        kernel, bias = weights["skip"]
        hidden = hidden + (_dot(_celu(skip), kernel) + bias)
    hidden = _celu(hidden)
    kernel, gate_bias = weights["gate"]
    # One gate bias per image (its condition's term), `(batch | 1, 2 filters)`.
    gates = _dot(hidden, kernel) + (gate_bias if x.shape.rank == 2 else gate_bias[:, tf.newaxis])
    values, gate_logits = tf.split(gates, 2, axis=-1)
    return x + values * tf.sigmoid(gate_logits)


class _CachedNetwork:
    """A PixelSNAIL's layers, evaluated row by row and pixel by pixel.

    The state of the loops is a flat dict:

    - `"buffer/<resnet>/first"`, `"buffer/<resnet>/gate"`: `(batch, 2,
      width + 2, 2 filters)`, a resnet's convolutions' inputs (their
      concat_elu) in the two newest rows (PixelCNN++'s buffers);
    - `"keys/<block>"`, `"values/<block>"`: `(batch, height, width, dims)`,
      every position's attention keys and values (zeros where not yet
      computed, which the mask never reads);
    - `"row/stem_above"`: the stem's part from the row above;
    - `"images"`, `"xpad"`: the image, and its scaled form with the ones
      channel, padded by two rows on top and a column at each side.
    """

    def __init__(self, model, xla=False):
        self.model = model
        self.xla = xla
        self.caches = _GatedResNetCaches(xla)
        self.height, self.width, self.channels = model.image_shape
        self.filters = model.num_filters
        self.num_blocks = model.num_blocks
        self.num_resnet = model.num_resnet
        self.num_heads = model.num_heads
        self.scale = 2.0 / (model.num_levels - 1)
        self.background = tf.constant(background_planes(self.height, self.width))

    # --- Weights ---------------------------------------------------------------

    def _read_weights(self, condition):
        """Every weight as a tensor, read once per call (not once per step)."""
        layer = self.model.get_layer
        vector = self.model.condition_spec.vector(condition)
        block_weights = self.caches._block_weights
        weights = {
            STEM_ABOVE: _conv(layer(STEM_ABOVE)),
            STEM_LEFT: _window(layer(STEM_LEFT)),
            "head": _conv(layer(OUTPUT)),
        }
        for b in range(self.num_blocks):
            for i in range(self.num_resnet):
                weights[resnet_layer(b, i)] = block_weights(layer(resnet_layer(b, i)), vector)
            for name in (content_layer(b), query_layer(b), merge_layer(b)):
                weights[name] = block_weights(layer(name), vector)
            attention = layer(attention_layer(b))
            weights[attention_layer(b)] = {
                name: (
                    tf.convert_to_tensor(getattr(attention, f"{name}_kernel")),
                    0.0
                    if getattr(attention, f"{name}_bias") is None
                    else tf.convert_to_tensor(getattr(attention, f"{name}_bias")),
                )
                for name in ("query", "key", "value")
            }
        return weights

    # --- One position, or one row ------------------------------------------------

    def _background(self, like, row, col=None):
        """The background planes at `(row, col)` (`(batch, 2)`), or of row
        `row` (`(batch, width, 2)`), in the batch of `like`."""
        planes = _at(self.background, 0, row)
        if col is not None:
            planes = _at(planes, 0, col)
            return tf.zeros_like(like[:, :2]) + planes
        return tf.zeros_like(like[..., :2]) + planes

    def _attend(self, state, weights, b, features, background, positions):
        """Block `b`'s attention output for queries at raster `positions`,
        from `features` and `background` of those positions (`(batch, dims)`
        for one position, `(batch, width, dims)` for a row)."""
        query = _pointwise_block(
            weights[query_layer(b)], tf.concat([features, background], axis=-1)
        )
        kernel, bias = weights[attention_layer(b)]["query"]
        queries = _dot(query, kernel) + bias
        one = queries.shape.rank == 2
        if one:
            queries = queries[:, tf.newaxis]
        batch = tf.shape(queries)[0]
        num_positions = self.height * self.width
        keys = tf.reshape(state[f"keys/{b}"], [batch, num_positions, queries.shape[-1]])
        values = state[f"values/{b}"]
        values = tf.reshape(values, [batch, num_positions, values.shape[-1]])
        mask = causal_mask(positions, num_positions, strict=True)
        mixed = attend(queries, keys, values, mask, self.num_heads)
        return mixed[:, 0] if one else mixed

    def _keys_and_values(self, weights, b, x, features, background):
        """Block `b`'s keys and values of positions whose pixels `x` (in
        `[-1, 1]`) and features are known."""
        content = _pointwise_block(
            weights[content_layer(b)], tf.concat([x, features, background], axis=-1)
        )
        projections = weights[attention_layer(b)]
        return tuple(
            _dot(content, kernel) + bias
            for kernel, bias in (projections["key"], projections["value"])
        )

    def _begin_row(self, state, weights, row):
        """The stem's part from the row above: a 1 x 3 convolution of image
        row `row - 1` (xpad has two rows of padding on top); its down_shift
        makes row 0 zero."""
        state = dict(state)
        kernel, bias = weights[STEM_ABOVE]
        above = tf.nn.conv2d(_at(state["xpad"], 1, row + 1, 1), kernel, 1, "VALID")
        state["row/stem_above"] = tf.where(row > 0, above[:, 0] + bias, 0.0)
        return state

    def _pixel_forward(self, state, weights, row, col):
        """The network at pixel `(row, col)`, before its value is known;
        writes the resnets' buffers into `state`. Returns the head's input
        and each block's features, which the keys need."""
        batch = tf.shape(state["images"])[0]
        kernel, bias = weights[STEM_LEFT]
        # The 2 x 1 view of column col - 1 in rows row - 1 and row; its
        # right_shift makes column 0 zero.
        left = tf.reshape(
            _at(_at(state["xpad"], 1, row + 1, 2), 2, col), [batch, kernel.shape[0]]
        )
        left = tf.where(col > 0, tf.matmul(left, kernel) + bias, 0.0)
        x = _at(state["row/stem_above"], 1, col) + left
        background = self._background(x, row, col)
        position = tf.reshape(row * self.width + col, [1])
        block_features = []
        for b in range(self.num_blocks):
            for i in range(self.num_resnet):
                x = self.caches._pixel_block(
                    state, None, resnet_layer(b, i), weights, x, row, col, None
                )
            block_features.append(x)
            mixed = self._attend(state, weights, b, x, background, position)
            x = _pointwise_block(weights[merge_layer(b)], x, mixed)
        return x, block_features

    def _known_row(self, state, weights, row):
        """The network on row `row`, all of whose pixels are known, a row at a
        time; writes the resnets' buffers and the row's keys and values.
        Returns the new state and the head's input of the row."""
        state = dict(state)
        width = self.width
        kernel, bias = weights[STEM_LEFT]
        rows = _at(state["xpad"], 1, row + 1, 2)[:, :, :width]
        left = tf.reshape(tf.transpose(rows, [0, 2, 1, 3]), [-1, width, kernel.shape[0]])
        left = tf.tensordot(left, kernel, 1) + bias
        left = tf.where(tf.range(width)[:, tf.newaxis] > 0, left, 0.0)
        x = state["row/stem_above"] + left
        background = self._background(x, row)
        pixels = _at(state["images"], 1, row) * self.scale - 1.0
        positions = row * width + tf.range(width)
        for b in range(self.num_blocks):
            for i in range(self.num_resnet):
                x = self.caches._known_row_block(
                    state, resnet_layer(b, i), weights, x, row, None
                )
            keys, values = self._keys_and_values(weights, b, pixels, x, background)
            state[f"keys/{b}"] = _put(state[f"keys/{b}"], [row], keys, self.xla)
            state[f"values/{b}"] = _put(state[f"values/{b}"], [row], values, self.xla)
            mixed = self._attend(state, weights, b, x, background, positions)
            x = _pointwise_block(weights[merge_layer(b)], x, mixed)
        return state, x

    # --- The loop ------------------------------------------------------------------

    def _initial_state(self, images):
        batch = tf.shape(images)[0]
        model = self.model
        state = {"images": images}
        x = images * self.scale - 1.0
        x = tf.concat([x, tf.ones_like(x[..., :1])], axis=-1)
        state["xpad"] = tf.pad(x, [[0, 0], [2, 0], [1, 1], [0, 0]])
        state["row/stem_above"] = tf.zeros([batch, self.width, self.filters])
        for b in range(self.num_blocks):
            for i in range(self.num_resnet):
                for conv in ("first", "gate"):
                    state[f"buffer/{resnet_layer(b, i)}/{conv}"] = tf.zeros(
                        [batch, 2, self.width + 2, 2 * self.filters]
                    )
            for name, dim in (("keys", model.key_dim), ("values", model.value_dim)):
                state[f"{name}/{b}"] = tf.zeros(
                    [batch, self.height, self.width, self.num_heads * dim]
                )
        return state

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

        draw = pixel_cnn_pp_cache.pixel_values_of(
            self.model, component_noise, channel_noise, temperature, choose
        )
        images, _ = self._run(images, known, condition, draw, teacher_forced_rows)
        return tf.cast(images, self.model.sample_dtype)

    def outputs(self, images, condition=None, by_rows=True):
        """The model's outputs on `images`, computed as the sampler does:
        every pixel known (`by_rows`: the teacher-forced row pass) or
        unknown (the pixel loop, whose draws return the given values).

        Returns:
            float32 `(batch, height, width, num_params)`.
        """
        images = tf.cast(images, tf.float32)
        known = tf.fill(tf.shape(images)[:3], by_rows)
        _, params = self._run(
            images, known, condition, lambda row, col, params: _at(_at(images, 1, row), 1, col)
        )
        return params

    def _run(self, images, known, condition, draw, teacher_forced_rows=True):
        """The row and pixel loops; `draw(row, col, params)` gives a pixel's
        values, which known pixels override. Returns the images and every
        pixel's parameters."""
        weights = self._read_weights(condition)
        head_kernel, head_bias = weights["head"]

        def pixel_step(row, col, state, params_columns):
            state = dict(state)  # the resnets write their buffers into it
            x, block_features = self._pixel_forward(state, weights, row, col)
            params = tf.matmul(_elu(x), head_kernel) + head_bias
            params_columns = params_columns.write(col, params)
            drawn = draw(row, col, params)
            values = tf.where(
                _at(_at(known, 1, row), 1, col)[:, tf.newaxis],
                _at(_at(images, 1, row), 1, col),
                drawn,
            )
            state["images"] = _put(state["images"], [row, col], values, self.xla)
            scaled = values * self.scale - 1.0
            state["xpad"] = _put(
                state["xpad"],
                [row + 2, col + 1],
                tf.concat([scaled, tf.ones_like(scaled[:, :1])], axis=-1),
                self.xla,
            )
            # The new position's keys and values, now that its pixel is known.
            background = self._background(x, row, col)
            for b, features in enumerate(block_features):
                keys, values_b = self._keys_and_values(weights, b, scaled, features, background)
                state[f"keys/{b}"] = _put(state[f"keys/{b}"], [row, col], keys, self.xla)
                state[f"values/{b}"] = _put(
                    state[f"values/{b}"], [row, col], values_b, self.xla
                )
            return state, params_columns

        def row_step(row, state, params_rows):
            state = self._begin_row(state, weights, row)
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
            state = self._begin_row(state, weights, row)
            state, x = self._known_row(state, weights, row)
            params = tf.tensordot(_elu(x), head_kernel, 1) + head_bias
            return row + 1, state, params_rows.write(row, tf.transpose(params, [1, 0, 2]))

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
