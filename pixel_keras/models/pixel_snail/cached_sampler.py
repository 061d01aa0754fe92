"""Cached sampling for PixelSNAIL.

PixelSNAIL has one stream, PixelCNN++'s down-right-shifted one, at one
resolution, and an attention at the end of every block. A pixel costs:

- the stem: its part from the row above (a 1 x 3 convolution of image row
  `i - 1`) once per row, its part from the pixel to the left once per pixel;
- every gated resnet at one position, with buffers of its convolutions'
  inputs in the two newest rows, by row parity (`GatedResNetBuffers`, which
  PixelCNN++'s sampler uses too; the schedule is in the module docstring of
  `pixel_cnn_pp/cached_sampler.py`);
- the 1 x 1 gated blocks (query, content, merge) at one position;
- each attention once, for the new position only: its query against a key
  and value cache of every position, `(batch, height, width, dims)`, masked
  to the positions before it (`causal_attention.attend`, the layer's own
  arithmetic). The keys and values of a position read its pixel, so they are
  computed after the pixel is drawn (or given), from the features the
  pixel's forward pass kept, and written into the cache at that position:
  the cache grows by one position per step;
- the head once per pixel: the mixture's parameters, from which all the
  pixel's channels are drawn at once; or the categorical head once per
  channel, each pass with the channels drawn before it (its mask-A 1 x 1
  convolution of the pixel) and the output stack's block of that channel.

A spatial condition map adds, in every gated block, its value at the
pixel's place in the map (nearest upsampling: map row `i // rows`, column
`j // cols`) times the block's 1 x 1 projection to the gates; a vector
condition is a per-image bias, read once per call.

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

from pixel_keras.distributions import pixel_categorical
from pixel_keras.layers.causal_attention import attend
from pixel_keras.layers.causal_attention import background_planes
from pixel_keras.layers.causal_attention import causal_mask
from pixel_keras.models import categorical
from pixel_keras.models.gated_resnet_cache import GatedResNetBuffers
from pixel_keras.models.gated_resnet_cache import at
from pixel_keras.models.gated_resnet_cache import concat_elu
from pixel_keras.models.gated_resnet_cache import dense_weights
from pixel_keras.models.gated_resnet_cache import elu
from pixel_keras.models.gated_resnet_cache import put
from pixel_keras.models.gated_resnet_cache import window_weights
from pixel_keras.models.logistic_mixture_head import pixel_values_of
from pixel_keras.models.pixel_snail.layer_names import HEAD_PIXEL
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
from pixel_keras.sampling import subpixel


def build_loop(model, jit_compile=False, teacher_forced_rows=True):
    """The traced cached loop of a `PixelSNAIL`.

    Args:
        model: a built `PixelSNAIL`.
        jit_compile: whether XLA compiles the loop. An export must not.
        teacher_forced_rows: whether the rows above the first unknown pixel
            are computed in a teacher-forced pass (completions).

    Returns:
        A `tf.function` with the signature and the draws of the naive loop:
        `loop(images, known, condition, component_noise, channel_noise,
        temperature)` with the mixture head, `loop(images, known,
        condition, noise, temperature)` (a uniform per sub-pixel) with the
        categorical head; it returns the images, of `model.sample_dtype`.
        Built inside `choice.choosing(choose)`, each sub-pixel's value is
        `choose`'s, given its conditional pmf, instead of a draw
        (`chooses_values` is then True).
    """
    network = _CachedNetwork(model, xla=bool(jit_compile))
    choose = choice.current()

    def run(images, known, condition, noise, temperature):
        return network.sample(
            images, known, condition, noise, temperature, teacher_forced_rows, choose
        )

    # Explicit control flow (`tf.while_loop`): no autograph to trace.
    if model.samples_subpixels:

        @tf.function(reduce_retracing=True, jit_compile=jit_compile, autograph=False)
        def loop(images, known, condition, noise, temperature):
            return run(images, known, condition, (noise,), temperature)

    else:

        @tf.function(reduce_retracing=True, jit_compile=jit_compile, autograph=False)
        def loop(images, known, condition, component_noise, channel_noise, temperature):
            return run(images, known, condition, (component_noise, channel_noise), temperature)

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


def _dot(x, kernel):
    """`x @ kernel` on the last axis of a `(batch, dims)` or `(batch, width,
    dims)` tensor (a 2-D matmul either way: no batch to broadcast)."""
    return tf.tensordot(x, kernel, 1)


def _pointwise_block(weights, x, skip=None, condition_value=None):
    """A 1 x 1 gated block (`GatedResNet(kernel_size=(1, 1))`) on one position
    `(batch, dims)` or one row `(batch, width, dims)`; `condition_value`, the
    condition map's values there, or None."""
    kernel, bias = weights["first"]
    hidden = _dot(concat_elu(x), kernel) + bias
    if skip is not None:
        kernel, bias = weights["skip"]
        hidden = hidden + (_dot(concat_elu(skip), kernel) + bias)
    hidden = concat_elu(hidden)
    kernel, gate_bias = weights["gate"]
    # One gate bias per image (its condition's term), `(batch | 1, 2 filters)`.
    gates = _dot(hidden, kernel) + (gate_bias if x.shape.rank == 2 else gate_bias[:, tf.newaxis])
    if condition_value is not None:
        gates = gates + _dot(condition_value, weights["map"])
    values, gate_logits = tf.split(gates, 2, axis=-1)
    return x + values * tf.sigmoid(gate_logits)


class _MixtureHead:
    """The logistic mixture head: a pixel's parameters, from which all its
    channels are drawn at once (`logistic_mixture_head.pixel_values_of`)."""

    def __init__(self, model):
        self.kernel, self.bias = dense_weights(model.get_layer(OUTPUT))

    def pixel(self, x, row, col, given, is_known, draw):
        """The pixel's values (`given` where `is_known`, else `draw(row,
        col, params)`) and its parameters, from its features `x`."""
        params = tf.matmul(elu(x), self.kernel) + self.bias
        return tf.where(is_known[:, tf.newaxis], given, draw(row, col, params)), params

    def row(self, x, values):
        """The parameters of a known row, `(batch, width, num_params)`."""
        return tf.tensordot(elu(x), self.kernel, 1) + self.bias

    @staticmethod
    def replay(images):
        """A draw that returns the pixels of `images`."""
        return lambda row, col, params: at(at(images, 1, row), 1, col)

    @staticmethod
    def sampler(model, noise, temperature, choose, xla):
        """The draw from the pixel's noise (or `choose`'s values)."""
        component_noise, channel_noise = noise
        return pixel_values_of(model, component_noise, channel_noise, temperature, choose)


class _CategoricalHead:
    """The categorical head, a channel at a time: the output stack's block
    of that channel (`subpixel.OutputStack`) on the features plus, for a
    colour image, the mask-A 1 x 1 convolution of the channels drawn so far
    (the channels not drawn yet may hold any value: the masks keep them from
    every channel up to the drawn one)."""

    def __init__(self, model, encode):
        self.channels = model.image_shape[-1]
        self.num_levels = model.num_levels
        self.encode = encode
        self.stack = subpixel.OutputStack(
            model.get_layer(categorical.OUTPUT_HIDDEN),
            model.get_layer(categorical.LOGITS),
            self.channels,
            self.num_levels,
        )
        self.pixel_kernel = None
        if self.channels > 1:
            self.pixel_kernel, self.pixel_bias = subpixel.pointwise(model.get_layer(HEAD_PIXEL))

    def _features(self, x, values):
        """The output stack's input from the features `x` and the pixel's
        values `(..., channels)`."""
        if self.pixel_kernel is None:
            return x
        return x + (_dot(self.encode(values), self.pixel_kernel) + self.pixel_bias)

    def pixel(self, x, row, col, given, is_known, draw):
        """The pixel's values, each channel `given` where `is_known`, else
        `draw(row, col, channel, logits)`, and its logits, from its
        features `x`."""
        undrawn = tf.zeros_like(given[:, 0])
        values, logits = [], []
        for channel in range(self.channels):
            pixel = tf.stack(values + [undrawn] * (self.channels - channel), -1)
            channel_logits = self.stack(self._features(x, pixel), channel)
            drawn = draw(row, col, channel, channel_logits)
            values.append(tf.where(is_known, given[:, channel], drawn))
            logits.append(channel_logits)
        return tf.stack(values, -1), tf.concat(logits, -1)

    def row(self, x, values):
        """The logits of a known row, `(batch, width, num_logits)`."""
        features = self._features(x, values)
        flat = tf.reshape(features, [-1, features.shape[-1]])
        logits = tf.concat([self.stack(flat, c) for c in range(self.channels)], -1)
        return tf.reshape(logits, [-1, x.shape[1], logits.shape[-1]])

    @staticmethod
    def replay(images):
        """A draw that returns the pixels of `images`."""
        return lambda row, col, channel, logits: at(at(images, 1, row), 1, col)[:, channel]

    @staticmethod
    def sampler(model, noise, temperature, choose, xla):
        """The draw of a sub-pixel from its uniform, as the naive sub-pixel
        loop draws it (or `choose`'s value, given its pmf)."""
        (noise,) = noise
        temperature = temperature[:, tf.newaxis]

        def draw(row, col, channel, logits):
            if model.num_levels == 2:
                # A Bernoulli logit l is the softmax of [0, l].
                logits = tf.concat([tf.zeros_like(logits), logits], -1)
            if choose is not None:
                return choose(tf.nn.softmax(logits, axis=-1), row, col, channel)
            uniform = at(at(noise, 1, row), 1, col)[:, channel]
            return pixel_categorical.categorical_from_uniforms(
                logits / temperature, uniform, scan_in_blocks=xla
            )

        return draw


class _CachedNetwork:
    """A PixelSNAIL's layers, evaluated row by row and pixel by pixel.

    The state of the loops is a flat dict:

    - `"buffer/<resnet>/first"`, `"buffer/<resnet>/gate"`: `(batch, 2,
      width + 2, 2 filters)`, a resnet's convolutions' inputs (their
      concat_elu) in the two newest rows (`GatedResNetBuffers`);
    - `"keys/<block>"`, `"values/<block>"`: `(batch, height, width, dims)`,
      every position's attention keys and values (zeros where not yet
      computed, which the mask never reads);
    - `"row/stem_above"`: the stem's part from the row above;
    - `"images"`, `"xpad"`: the image, and its encoded form with the ones
      channel, padded by two rows on top and a column at each side.
    """

    def __init__(self, model, xla=False):
        self.model = model
        self.xla = xla
        self.caches = GatedResNetBuffers(xla)
        self.height, self.width, self.channels = model.image_shape
        self.filters = model.num_filters
        self.num_blocks = model.num_blocks
        self.num_resnet = model.num_resnet
        self.num_heads = model.num_heads
        self.background = tf.constant(background_planes(self.height, self.width))
        encoding = model.get_layer(categorical.ENCODING)
        # Pixel values (..., C) to the features the network reads (...,
        # C * E). The loops compute in float32 from the float32 variables,
        # also under a mixed policy.
        self.encode = lambda values: tf.cast(encoding(values), tf.float32)
        self.head_class = _CategoricalHead if model.head == "categorical" else _MixtureHead
        self.map_factors = model.condition_map_factors

    # --- Weights ---------------------------------------------------------------

    def _read_weights(self, condition):
        """Every weight as a tensor, read once per call (not once per step)."""
        layer = self.model.get_layer
        vector = None
        if self.map_factors is None:
            vector = self.model.condition_spec.vector(condition)
        block_weights = self.caches.block_weights
        weights = {
            STEM_ABOVE: dense_weights(layer(STEM_ABOVE)),
            STEM_LEFT: window_weights(layer(STEM_LEFT)),
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

    # --- The condition map ---------------------------------------------------------

    def _condition_map(self, condition):
        """The condition map, float32 `(batch, h, w, c)`, or None."""
        return None if self.map_factors is None else tf.cast(condition, tf.float32)

    def _condition_at(self, condition_map, row, col=None):
        """The condition map's values at pixel `(row, col)`, `(batch, c)`, or
        on image row `row`, `(batch, width, c)`, as the network upsamples
        it (nearest); None without a map."""
        if condition_map is None:
            return None
        rows, cols = self.map_factors
        values = at(condition_map, 1, row // rows)
        if col is not None:
            return at(values, 1, col // cols)
        return tf.repeat(values, cols, axis=1) if cols > 1 else values

    # --- One position, or one row ------------------------------------------------

    def _background(self, like, row, col=None):
        """The background planes at `(row, col)` (`(batch, 2)`), or of row
        `row` (`(batch, width, 2)`), in the batch of `like`."""
        planes = at(self.background, 0, row)
        if col is not None:
            planes = at(planes, 0, col)
            return tf.zeros_like(like[:, :2]) + planes
        return tf.zeros_like(like[..., :2]) + planes

    def _attend(self, state, weights, b, features, background, positions, condition_value):
        """Block `b`'s attention output for queries at raster `positions`,
        from `features` and `background` of those positions (`(batch, dims)`
        for one position, `(batch, width, dims)` for a row)."""
        query = _pointwise_block(
            weights[query_layer(b)],
            tf.concat([features, background], axis=-1),
            condition_value=condition_value,
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

    def _keys_and_values(self, weights, b, x, features, background, condition_value):
        """Block `b`'s keys and values of positions whose (encoded) pixels
        `x` and features are known."""
        content = _pointwise_block(
            weights[content_layer(b)],
            tf.concat([x, features, background], axis=-1),
            condition_value=condition_value,
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
        above = tf.nn.conv2d(at(state["xpad"], 1, row + 1, 1), kernel, 1, "VALID")
        state["row/stem_above"] = tf.where(row > 0, above[:, 0] + bias, 0.0)
        return state

    def _pixel_forward(self, state, weights, row, col, condition_value):
        """The network at pixel `(row, col)`, before its value is known;
        writes the resnets' buffers into `state`. Returns the head's input
        and each block's features, which the keys need."""
        batch = tf.shape(state["images"])[0]
        kernel, bias = weights[STEM_LEFT]
        # The 2 x 1 view of column col - 1 in rows row - 1 and row; its
        # right_shift makes column 0 zero.
        left = tf.reshape(
            at(at(state["xpad"], 1, row + 1, 2), 2, col), [batch, kernel.shape[0]]
        )
        left = tf.where(col > 0, tf.matmul(left, kernel) + bias, 0.0)
        x = at(state["row/stem_above"], 1, col) + left
        background = self._background(x, row, col)
        position = tf.reshape(row * self.width + col, [1])
        block_features = []
        for b in range(self.num_blocks):
            for i in range(self.num_resnet):
                x = self.caches.pixel_block(
                    state, None, resnet_layer(b, i), weights, x, row, col, None, condition_value
                )
            block_features.append(x)
            mixed = self._attend(state, weights, b, x, background, position, condition_value)
            x = _pointwise_block(weights[merge_layer(b)], x, mixed, condition_value)
        return x, block_features

    def _known_row(self, state, weights, row, condition_row):
        """The network on row `row`, all of whose pixels are known, a row at a
        time; writes the resnets' buffers and the row's keys and values.
        Returns the new state and the head's input of the row."""
        state = dict(state)
        width = self.width
        kernel, bias = weights[STEM_LEFT]
        rows = at(state["xpad"], 1, row + 1, 2)[:, :, :width]
        left = tf.reshape(tf.transpose(rows, [0, 2, 1, 3]), [-1, width, kernel.shape[0]])
        left = tf.tensordot(left, kernel, 1) + bias
        left = tf.where(tf.range(width)[:, tf.newaxis] > 0, left, 0.0)
        x = state["row/stem_above"] + left
        background = self._background(x, row)
        pixels = self.encode(at(state["images"], 1, row))
        positions = row * width + tf.range(width)
        for b in range(self.num_blocks):
            for i in range(self.num_resnet):
                x = self.caches.known_row_block(
                    state, resnet_layer(b, i), weights, x, row, None, condition_row
                )
            keys, values = self._keys_and_values(
                weights, b, pixels, x, background, condition_row
            )
            state[f"keys/{b}"] = put(state[f"keys/{b}"], [row], keys, self.xla)
            state[f"values/{b}"] = put(state[f"values/{b}"], [row], values, self.xla)
            mixed = self._attend(state, weights, b, x, background, positions, condition_row)
            x = _pointwise_block(weights[merge_layer(b)], x, mixed, condition_row)
        return state, x

    # --- The loop ------------------------------------------------------------------

    def _padded_pixels(self, values):
        """Encoded pixel values with the stem's channel of ones."""
        encoded = self.encode(values)
        return tf.concat([encoded, tf.ones_like(encoded[..., :1])], axis=-1)

    def _initial_state(self, images):
        batch = tf.shape(images)[0]
        model = self.model
        state = {"images": images}
        state["xpad"] = tf.pad(self._padded_pixels(images), [[0, 0], [2, 0], [1, 1], [0, 0]])
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
        noise,
        temperature,
        teacher_forced_rows=True,
        choose=None,
    ):
        """Draws the unknown pixels of `images` from `noise` (the naive
        loop's tuple), or has `choose` choose them, channel by channel,
        from their pmfs; see `build_loop`."""
        draw = self.head_class.sampler(self.model, noise, temperature, choose, self.xla)
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
            images, known, condition, self.head_class.replay(images), keep_params=True
        )
        return params

    def _run(self, images, known, condition, draw, teacher_forced_rows=True, keep_params=False):
        """The row and pixel loops; `draw` gives an unknown pixel's values
        (the head's signature: `_MixtureHead.pixel`, `_CategoricalHead.pixel`),
        which known pixels override. Returns the images and, with
        `keep_params`, every pixel's parameters (None without: sampling
        keeps none, which for 65,536 levels would be 256 KiB per pixel)."""
        weights = self._read_weights(condition)
        condition_map = self._condition_map(condition)
        head = (
            _CategoricalHead(self.model, self.encode)
            if self.head_class is _CategoricalHead
            else _MixtureHead(self.model)
        )

        def pixel_step(row, col, state, *params_columns):
            state = dict(state)  # the resnets write their buffers into it
            condition_value = self._condition_at(condition_map, row, col)
            x, block_features = self._pixel_forward(state, weights, row, col, condition_value)
            # Known values from the given images, not from the state's: a
            # read where the state is written would cost XLA a copy of it.
            values, params = head.pixel(
                x,
                row,
                col,
                at(at(images, 1, row), 1, col),
                at(at(known, 1, row), 1, col),
                draw,
            )
            if keep_params:
                params_columns = (params_columns[0].write(col, params),)
            state["images"] = put(state["images"], [row, col], values, self.xla)
            padded = self._padded_pixels(values)
            state["xpad"] = put(state["xpad"], [row + 2, col + 1], padded, self.xla)
            # The new position's keys and values, now that its pixel is known.
            background = self._background(x, row, col)
            for b, features in enumerate(block_features):
                keys, values_b = self._keys_and_values(
                    weights, b, padded[:, :-1], features, background, condition_value
                )
                state[f"keys/{b}"] = put(state[f"keys/{b}"], [row, col], keys, self.xla)
                state[f"values/{b}"] = put(
                    state[f"values/{b}"], [row, col], values_b, self.xla
                )
            return (state, *params_columns)

        def row_step(row, state, *params_rows):
            state = self._begin_row(state, weights, row)
            columns = (tf.constant(0), state)
            if keep_params:
                columns += (tf.TensorArray(tf.float32, size=self.width),)
            _, state, *params_columns = tf.while_loop(
                lambda col, *_: col < self.width,
                lambda col, *carried: (col + 1, *pixel_step(row, col, *carried)),
                columns,
                parallel_iterations=1,
            )
            if keep_params:
                params = params_columns[0].stack()
                params.set_shape([self.width, *params.shape[1:]])
                params_rows = (params_rows[0].write(row, params),)
            return (row + 1, state, *params_rows)

        def known_row_step(row, state, *params_rows):
            state = self._begin_row(state, weights, row)
            condition_row = self._condition_at(condition_map, row)
            state, x = self._known_row(state, weights, row, condition_row)
            if keep_params:
                params = head.row(x, at(images, 1, row))
                params_rows = (params_rows[0].write(row, tf.transpose(params, [1, 0, 2])),)
            return (row + 1, state, *params_rows)

        loop_vars = (tf.constant(0), self._initial_state(images))
        if keep_params:
            # Each row's parameters, (width, batch, num_params).
            loop_vars += (tf.TensorArray(tf.float32, size=self.height),)
        if teacher_forced_rows:
            first_unknown_row = known_pixels.first_unknown_row(known)
            loop_vars = tf.while_loop(
                lambda row, *_: row < first_unknown_row,
                known_row_step,
                loop_vars,
                parallel_iterations=1,
            )
        _, state, *params_rows = tf.while_loop(
            lambda row, *_: row < self.height, row_step, loop_vars, parallel_iterations=1
        )
        params = None
        if keep_params:
            params = tf.transpose(params_rows[0].stack(), [2, 0, 1, 3])
        return state["images"], params
