"""The cached sub-pixel loop that the PixelRNN paper's three models share.

The PixelCNN, Row LSTM and Diagonal BiLSTM all start with a k x k mask-A
convolution of the (encoded) image and end with the same output stack, and
all draw a pixel's channels one at a time. `build_loop` runs the loop and
the draws, and leaves the layers to a *network*: a small object, one class
per model (beside the model, in `pixel_keras/models/`), that computes every
layer at one pixel from what it caches of the earlier pixels. This module
knows no model: the network hands it the input convolution
(`InputConvolution`) and computes the rest; `OutputStack`, `SkipSum` and
`condition_biases` are pieces the networks share.

The loop is two nested `tf.while_loop`s, rows and then columns. Work is done
as rarely as its inputs allow:

- once per row: everything that reads only the rows above (a convolution's
  taps above the centre, a recurrence from the row above), for the whole
  row at once;
- once per pixel: what reads the pixels to the left in the same row;
- once per sub-pixel: the centre taps, whose channel masks let channel group
  `g` of every layer depend on the groups `<= g` of the pixel itself, then
  the draw.

Because the first convolution is mask A, no layer's value at a pixel depends
on its last channel, so the activations of the last sub-pixel's pass are the
pixel's final ones: those are what the network keeps for later pixels.
Every pixel is computed, known or not (later pixels read its activations);
known pixels keep their given values, and the caches are computed from them.
The rows above a completion's first unknown pixel are computed without the
sub-pixel passes and draws: the input convolution over the whole row at
once, then the network's `known_row` (every layer a row at a time), or one
pass per pixel at its last channel for a network without one (the Diagonal
BiLSTM, whose forward state reads the pixel to the left). So completing the
bottom half of an image costs about half a sample.

A network class is built inside the traced loop as
`network_class(model, condition, batch)` and has:

- `initial_state()`, `begin_row(state)`, `end_row(state, records, slab)`:
  what it carries from row to row, the per-row context it derives from that
  (tensors whose first axis is the column), and the update at the end of a
  row from `records` (`(W, ...)`, one per pixel of the row) and the image
  `slab` (`(B, image_rows, W + 6, E)`, the last rows of the encoded image,
  zero padded as "same" convolutions pad, the finished row last);
- `initial_carry()`, `begin_pixel(row_context, carry, col)`,
  `end_pixel(activations, carry) -> (carry, record)`: what it carries from a
  pixel to the next one in a row (zeros at the start of each row: the "same"
  padding), and the per-pixel context;
- `forward(pixel_context, features, channel) -> (logits, activations)`:
  every layer at the pixel from the input convolution's output `features`,
  and the logits of `channel` (`(B, L)`, or `(B, 1)` for a Bernoulli);
- optionally `known_row(row_context, features) -> records`: every layer on
  a row whose pixels are all known, at once, from the input convolution's
  outputs `(W, B, F)` at the row's last channel (the rows above a
  completion's first unknown pixel); without it, they run one pass per
  pixel;
- `input_conv`: the model's first convolution, as an `InputConvolution`
  (with the first layer's condition bias in its bias), and `image_rows`: how
  many image rows the slab must keep.
"""

import weakref

import tensorflow as tf

from pixel_keras.distributions import pixel_categorical
from pixel_keras.sampling import choice
from pixel_keras.sampling import known_pixels

# The traced teacher-forcing loops of each model, by network class.
_LOGIT_LOOPS = weakref.WeakKeyDictionary()

# A row of every layer's inputs, `(W, N, B, K)`, times each layer's own
# kernel, `(N, K, F)`. Not `tf.matmul`, which would broadcast the kernels'
# batch `(N,)` against `(W, N)`: TensorFlow 2.21's oneDNN kernel for a
# broadcast batch reads past its buffer on AVX-512 CPUs and corrupts the heap
# (tensorflow#117700). `einsum` moves the layer axis first and calls one
# batched matmul whose operands share the batch `(N,)` (seen with
# `ONEDNN_VERBOSE=1`: `Nx(W*B)xK:NxKxF`); tests/test_no_broadcast_matmul.py
# keeps every matmul of the package off the broadcast path.
ROW_MATMUL = "wnbk,nkf->wnbf"


def masked_kernel(layer):
    """A `MaskedConv2D`'s kernel times its mask, as a tensor."""
    kernel = tf.convert_to_tensor(layer.kernel)
    return kernel * tf.cast(layer.mask, kernel.dtype)


def pointwise(layer):
    """The `(in, out)` matrix and the bias of a 1 x 1 `MaskedConv2D`."""
    return masked_kernel(layer)[0, 0], tf.convert_to_tensor(layer.bias)


def condition_biases(model, layer_names, condition):
    """Each named condition layer's bias for every image, `(B, F)`.

    The models add `Dense(vector)` (the one-hot label or the flattened
    values, `model.condition_spec.vector(condition)`) to every layer's input:
    one bias per image and layer, at every pixel. A list of None for an
    unconditional model (`condition` None).
    """
    if condition is None:
        return [None] * len(layer_names)
    vector = model.condition_spec.vector(condition)
    return [
        tf.matmul(vector, tf.convert_to_tensor(model.get_layer(name).kernel))
        for name in layer_names
    ]


def row_convolution(rows, kernel, bias):
    """One output row of a convolution over a slab of rows, `(W, B, F)`.

    Args:
        rows: `(B, R, W + k - 1, E)` input rows, zero padded left and right.
        kernel: `(R, k, E, F)` taps; a row's taps right of the centre must be
            masked out where they read what is not yet known.
        bias: `(F,)`.

    Returns:
        `(W, B, F)`, columns first for per-pixel slicing.
    """
    outputs = tf.nn.conv2d(rows, kernel, strides=1, padding="VALID")
    return tf.transpose(outputs[:, 0], [1, 0, 2]) + bias


def row_taps(row, half, width):
    """The `2 * half + 1` neighbours of every column of a `(width, ...)` row,
    concatenated on the last axis (zeros beyond the edges)."""
    padded = tf.pad(row, [[half, half]] + [[0, 0]] * (row.shape.rank - 1))
    return tf.concat([padded[tap : tap + width] for tap in range(2 * half + 1)], -1)


def left_taps(row, half):
    """The `half` neighbours left of every column of a `(W, ...)` row,
    oldest first, concatenated on the last axis (zeros left of column 0):
    what a pixel loop carries from pixel to pixel, for a whole row."""
    width = row.shape[0]
    padded = tf.pad(row, [[half, 0]] + [[0, 0]] * (row.shape.rank - 1))
    return tf.concat([padded[tap : tap + width] for tap in range(half)], -1)


def _stack_row(array, width):
    """A `TensorArray` of `width` columns, stacked with a static first axis
    (loop variables derived from it must keep their shapes)."""
    stacked = array.stack()
    stacked.set_shape([width] + stacked.shape.as_list()[1:])
    return stacked


class OutputStack:
    """ReLU, a 1 x 1 hidden layer, ReLU, the 1 x 1 logits layer at one pixel,
    one channel at a time.

    Args:
        hidden: the hidden 1 x 1 `MaskedConv2D`.
        logits: the 1 x 1 `MaskedConv2D` to every channel's logits.
        channels: int, the image's channels.
        num_levels: int, values per channel (2: one Bernoulli logit).
    """

    def __init__(self, hidden, logits, channels, num_levels):
        self.hidden_kernel, self.hidden_bias = pointwise(hidden)
        kernel, bias = pointwise(logits)
        per_channel = 1 if num_levels == 2 else num_levels
        # Only the drawn channel's logits are needed at each pass.
        blocks = [slice(c * per_channel, (c + 1) * per_channel) for c in range(channels)]
        self.kernels = [kernel[:, block] for block in blocks]
        self.biases = [bias[block] for block in blocks]

    def __call__(self, features, channel):
        hidden = tf.matmul(tf.nn.relu(features), self.hidden_kernel)
        hidden = tf.nn.relu(tf.nn.bias_add(hidden, self.hidden_bias))
        logits = tf.matmul(hidden, self.kernels[channel])
        return tf.nn.bias_add(logits, self.biases[channel])


class SkipSum:
    """The sum of 1 x 1 skip convolutions (one per layer) at one pixel, as
    one matmul of the layers' outputs side by side."""

    def __init__(self, layers):
        kernels, biases = zip(*(pointwise(layer) for layer in layers))
        self.kernel = tf.concat(kernels, 0)
        self.bias = tf.add_n(biases)

    def __call__(self, outputs):
        return tf.matmul(tf.concat(outputs, -1), self.kernel) + self.bias


class InputConvolution:
    """A model's first convolution (k x k, mask A) split by where its taps
    fall: the rows above (once per row), the pixels to the left (once per
    pixel), and the centre (once per sub-pixel).

    Args:
        layer: the `MaskedConv2D`.
        encoding: the `PixelEncoding` layer before it.
        extra_bias: None or `(B, F)`, added to its bias (a condition bias).
    """

    def __init__(self, layer, encoding, extra_bias=None):
        kernel = masked_kernel(layer)
        self.half_rows, self.half_cols = (size // 2 for size in layer.kernel_size)
        self.above_kernel = kernel[: self.half_rows]
        left = kernel[self.half_rows, : self.half_cols]
        self.left_kernel = tf.reshape(left, [-1, kernel.shape[-1]])
        self.centre_kernel = kernel[self.half_rows, self.half_cols]
        # Mask A zeroes the centre row's taps from the centre on, for the
        # channels not drawn yet: with a whole known row, the rows above and
        # the row itself are one convolution.
        self.known_row_kernel = kernel[: self.half_rows + 1]
        self.bias = tf.convert_to_tensor(layer.bias)
        if extra_bias is not None:
            self.bias = self.bias + extra_bias
        # Pixel values (..., C) to the features the layer reads (..., E).
        # The cached samplers compute in float32 from the float32 variables,
        # also under a mixed policy (BUILD.md, "Mixed precision").
        self.encode = lambda values: tf.cast(encoding(values), tf.float32)
        self.features = kernel.shape[2]

    def row(self, slab):
        """The rows above, for every column of the next row: `(W, B, F)`."""
        rows = slab[:, slab.shape[1] - self.half_rows :]
        return row_convolution(rows, self.above_kernel, self.bias)

    def known_row(self, slab, row):
        """Every column's features on a known row, `(W, B, F)`: what `row`,
        `pixel` and `centre` give at its last channel, in one convolution.

        Args:
            slab: as for `row`, the rows above.
            row: `(B, W + k - 1, E)`, the encoded row, padded as the slab is.
        """
        rows = tf.concat([slab[:, slab.shape[1] - self.half_rows :], row[:, tf.newaxis]], 1)
        return row_convolution(rows, self.known_row_kernel, self.bias)

    def pixel(self, row_features, window):
        """Adds the pixels to the left (`window`, `(B, half * E)`)."""
        return row_features + tf.matmul(window, self.left_kernel)

    def centre(self, features, pixel):
        """Adds the pixel itself, `(B, C)` values: mask A lets channel group
        `g` of `features` read only channels `< g` of it, so the channels
        not drawn yet may hold any value."""
        return features + tf.matmul(self.encode(pixel), self.centre_kernel)


def build_loop(
    model, network_class, with_logits=False, jit_compile=False, teacher_forced_rows=True
):
    """The traced cached loop of `model`.

    Args:
        model: a `PixelCNN` or `PixelRNN`.
        network_class: the model's network (see the module docstring).
        with_logits: also return the categorical logits every draw used,
            `(B, H, W, C, L)` (a Bernoulli logit `l` as `[0, l]`).
        jit_compile: whether XLA compiles the loop (not in an export).
        teacher_forced_rows: whether the rows above the first unknown pixel
            are computed in a teacher-forced pass (completions) or, like
            every other row, drawn (`sample`, where no pixel is known: no
            such pass is traced).

    Returns:
        A `tf.function` `loop(images, known, condition, noise,
        temperature)` with the signature and semantics of the naive
        sub-pixel loop of `pixel_keras.sampling`: the images (and the logits
        if asked). Built inside `choice.choosing(choose)`, each sub-pixel's
        value is `choose`'s, given its pmf (the softmax of its logits),
        instead of a draw (`chooses_values` is then True).
    """
    height, width, channels = model.image_shape
    num_levels = model.num_levels
    choose = choice.current()

    def draw(logits, temperature, uniform, known, given, position):
        """One sub-pixel as the naive loop draws it (or as the hook
        chooses it), or its given value."""
        if num_levels == 2:
            logits = tf.concat([tf.zeros_like(logits), logits], -1)
        if choose is not None:
            value = choose(tf.nn.softmax(logits, axis=-1), *position)
        else:
            value = pixel_categorical.categorical_from_uniforms(
                logits / temperature, uniform, scan_in_blocks=jit_compile
            )
        return tf.where(known, given, value), logits

    # Its control flow is explicit (`tf.while_loop`, `tf.cond`): autograph
    # would only wrap every call, and doubled the loop's tracing time.
    @tf.function(reduce_retracing=True, jit_compile=jit_compile, autograph=False)
    def loop(images, known, condition, noise, temperature):
        # The static batch where known: zeros made inside the loops from a
        # dynamic one lose it, and a batch of 1 broadcast with an unknown
        # batch stays unknown, so loop variables would change shape.
        batch = images.shape[0]
        if batch is None:
            batch = tf.shape(images)[0]
        network = network_class(model, condition, batch)
        input_conv = network.input_conv
        half_cols = input_conv.half_cols
        image_rows = max(input_conv.half_rows, network.image_rows)
        # Raster-major copies, so that a row and then a pixel are slices of
        # the leading axes: (H, W, 2C, B) given values and noise, (H, W, B).
        given_and_noise = tf.transpose(tf.concat([images, noise], -1), [1, 2, 3, 0])
        first_unknown_row = known_pixels.first_unknown_row(known)
        known = tf.transpose(known, [1, 2, 0])
        temperature = temperature[:, tf.newaxis]
        # The value of a channel not drawn yet (any valid value would do).
        undrawn = tf.zeros([batch])

        def row_body(row, slab, state, drawn_rows, *logit_rows):
            row_context = network.begin_row(state)
            row_features = input_conv.row(slab)
            row_inputs, row_known = given_and_noise[row], known[row]

            def prepare(col, carry, window):
                """A pixel's context and input features, from what the
                pixels to its left left (at the last column, unused)."""
                col = tf.minimum(col, width - 1)
                pixel_context = network.begin_pixel(row_context, carry, col)
                return pixel_context, input_conv.pixel(row_features[col], window)

            def pixel_body(col, carry, window, prepared, records, values, *logit_columns):
                pixel_context, features = prepared
                inputs = tf.unstack(row_inputs[col], 2 * channels)
                drawn, all_logits = [], []
                for channel in range(channels):
                    if channel > 0:
                        pixel = drawn + [undrawn] * (channels - channel)
                        channel_features = input_conv.centre(
                            features, tf.stack(pixel, -1)
                        )
                    else:
                        channel_features = features
                    logits, activations = network.forward(
                        pixel_context, channel_features, channel
                    )
                    value, logits = draw(
                        logits,
                        temperature,
                        inputs[channels + channel],
                        row_known[col],
                        inputs[channel],
                        (row, col, channel),
                    )
                    drawn.append(value)
                    all_logits.append(logits)
                # Mask A: the last channel reaches no feature of its own
                # pixel, so the last pass's `activations` are final.
                pixel = tf.stack(drawn, axis=-1)
                carry, record = network.end_pixel(activations, carry)
                window = tf.concat(
                    [window[:, input_conv.features :], input_conv.encode(pixel)], -1
                )
                # The next pixel's context is prepared here and carried: as
                # a loop variable, XLA computes it once, where it fused its
                # slices of the row's context into every sub-pixel pass's
                # kernels, which then ran several times slower (an LSTM step
                # 8 us instead of 2).
                prepared = prepare(col + 1, carry, window)
                outputs = (col + 1, carry, window, prepared, records.write(col, record))
                outputs += (values.write(col, pixel),)
                if with_logits:
                    logits = logit_columns[0].write(col, tf.stack(all_logits, 1))
                    outputs += (logits,)
                return outputs

            carry = network.initial_carry()
            window = tf.zeros([batch, half_cols * input_conv.features])
            columns = (
                tf.constant(0),
                carry,
                window,
                prepare(tf.constant(0), carry, window),
                tf.TensorArray(tf.float32, size=width),
                tf.TensorArray(tf.float32, size=width),
            )
            if with_logits:
                columns += (tf.TensorArray(tf.float32, size=width),)
            columns = tf.while_loop(lambda col, *_: col < width, pixel_body, columns)
            records = _stack_row(columns[4], width)
            values = _stack_row(columns[5], width)
            new_row = encode_row(values)
            outputs = end_row(row, slab, state, drawn_rows, values, new_row, records)
            if with_logits:
                outputs += (logit_rows[0].write(row, _stack_row(columns[6], width)),)
            return outputs

        def encode_row(values):
            """`(W, B, C)` values to the slab's new row, `(B, W + k - 1, E)`."""
            return tf.pad(
                input_conv.encode(tf.transpose(values, [1, 0, 2])),
                [[0, 0], [half_cols, half_cols], [0, 0]],
            )

        def end_row(row, slab, state, drawn_rows, values, new_row, records):
            slab = tf.concat([slab[:, 1:], new_row[:, tf.newaxis]], 1)
            state = network.end_row(state, records, slab)
            return row + 1, slab, state, drawn_rows.write(row, values)

        def known_row_body(row, slab, state, drawn_rows):
            """A row of known pixels: no draws, and every layer's final
            activations without the passes of the channels before the last:
            the network's `known_row` (a whole row at once) where it has
            one, else one pass per pixel."""
            row_context = network.begin_row(state)
            # The given values, (W, B, C).
            values = tf.transpose(given_and_noise[row][:, :channels], [0, 2, 1])
            new_row = encode_row(values)
            features = input_conv.known_row(slab, new_row)
            if hasattr(network, "known_row"):
                records = network.known_row(row_context, features)
            else:

                def pixel_body(col, carry, records):
                    pixel_context = network.begin_pixel(row_context, carry, col)
                    _, activations = network.forward(
                        pixel_context, features[col], channels - 1
                    )
                    carry, record = network.end_pixel(activations, carry)
                    return col + 1, carry, records.write(col, record)

                columns = (
                    tf.constant(0),
                    network.initial_carry(),
                    tf.TensorArray(tf.float32, size=width),
                )
                columns = tf.while_loop(lambda col, *_: col < width, pixel_body, columns)
                records = _stack_row(columns[2], width)
            return end_row(row, slab, state, drawn_rows, values, new_row, records)

        slab_shape = [batch, image_rows, width + 2 * half_cols, input_conv.features]
        loop_vars = (
            tf.constant(0),
            tf.zeros(slab_shape),
            network.initial_state(),
            tf.TensorArray(tf.float32, size=height),
        )
        if teacher_forced_rows and not with_logits:
            # The rows above the first unknown pixel: one teacher-forced pass.
            # (The logits of every sub-pixel need the sub-pixel passes.)
            loop_vars = tf.while_loop(
                lambda row, *_: row < first_unknown_row, known_row_body, loop_vars
            )
        if with_logits:
            loop_vars += (tf.TensorArray(tf.float32, size=height),)
        loop_vars = tf.while_loop(lambda row, *_: row < height, row_body, loop_vars)
        # (H, W, B, C) to (B, H, W, C).
        images = tf.transpose(loop_vars[3].stack(), [2, 0, 1, 3])
        images = tf.cast(images, model.sample_dtype)
        if not with_logits:
            return images
        # (H, W, B, C, L) to (B, H, W, C, L).
        return images, tf.transpose(loop_vars[4].stack(), [2, 0, 1, 3, 4])

    loop.chooses_values = choose is not None
    return loop


def teacher_forced_logits(model, network_class, images, condition=None):
    """The logits the cached loop computes for given images.

    With every pixel known, the loop keeps `images` and each draw's logits
    are those of the images themselves: they must equal the full network's
    (`model.channel_logits(model(images))`), which tests the caches, and
    running it on a sampler's output gives the logits that sampler used.

    Args:
        model: a `PixelCNN` or `PixelRNN`.
        network_class: the model's network.
        images: `(B, H, W, C)` integer-valued images.
        condition: the model's condition (class labels `(B,)` or values),
            else None.

    Returns:
        float32 `(B, H, W, C, L)` logits (a Bernoulli logit `l` as `[0, l]`).
    """
    loops = _LOGIT_LOOPS.setdefault(model, {})
    if network_class not in loops:
        loops[network_class] = build_loop(model, network_class, with_logits=True)
    images = tf.cast(images, tf.float32)
    batch = tf.shape(images)[0]
    if condition is not None:
        condition = tf.cast(condition, model.condition_spec.dtype)
    _, logits = loops[network_class](
        images,
        tf.ones(tf.shape(images)[:3], tf.bool),
        condition,
        tf.zeros_like(images),
        tf.ones([batch]),
    )
    return logits
