"""Cached sampling of the Gated PixelCNN.

The two stacks split the work as Ramachandran et al. (2017) describe: the
vertical stack sees only rows above, so all of it is computed **once per
row**, for the whole row; the horizontal stack sees the row up to the pixel,
so it is computed **once per pixel** from what the pixels to the left left,
and its centre taps (the channel masks) **once per sub-pixel**. This runs
inside the sub-pixel loop that the PixelRNN paper's models share
(`pixel_keras.sampling.subpixel`), as its *network*:

- state, from row to row: the row `r` it holds, every layer's vertical
  pre-activations on row `r` (`(W, N, B, 2p)`), and the gated vertical
  outputs of layers `0 .. N - 2` on the `n // 2` rows above `r` (what the
  next layers' `ceil(n / 2) x n` convolutions read besides row `r`). At the
  end of a row, the next row's vertical stack is computed layer by layer:
  layer 0 from the image rows the loop keeps (its slab), each later one
  from the layer below's history and new row. One convolution per layer
  and row.
- per-row context: each layer's link (a 1 x 1 of the vertical
  pre-activations), the horizontal biases and conditions, for every column
  at once: one batched matmul per row.
- carry, from pixel to pixel: each layer's horizontal input at the `n // 2`
  pixels to the left (zeros at the start of a row: the padding); their taps
  are one batched matmul per pixel.
- per sub-pixel: the first layer's horizontal convolution at the pixel (the
  loop's input convolution: mask A, the channels drawn so far), then every
  layer's centre tap, gate, 1 x 1s and the output stack.

Rows above a completion's first unknown pixel run without draws, a whole
row at once (`known_row`). Nothing is left uncached.
"""

import tensorflow as tf

from pixel_keras.models import categorical
from pixel_keras.models.gated_pixel_cnn.layer_names import block_name
from pixel_keras.sampling import subpixel


def _gate(pre_activations):
    features, gates = tf.split(pre_activations, 2, axis=-1)
    return tf.tanh(features) * tf.sigmoid(gates)


def _tensor(variable):
    return tf.convert_to_tensor(variable)


class _FirstHorizontalConvolution:
    """The first layer's `1 x ceil(n/2)` horizontal convolution as the
    `n`-wide, 3-row centred kernel that `subpixel.InputConvolution` splits
    (rows above and taps right of the pixel are zero): its taps left of the
    pixel once per pixel, its masked centre once per sub-pixel."""

    def __init__(self, conv):
        kernel = subpixel.masked_kernel(conv)  # (1, n//2 + 1, E, 2p)
        half = conv.kernel_size[1] - 1
        row = tf.pad(kernel, [[0, 0], [0, half], [0, 0], [0, 0]])
        self.kernel = tf.pad(row, [[1, 1], [0, 0], [0, 0], [0, 0]])
        self.mask = tf.ones_like(self.kernel)
        self.kernel_size = (3, 2 * half + 1)
        self.bias = _tensor(conv.bias)


class _GatedPixelCNNNetwork:
    """The layers of a `GatedPixelCNN` at one pixel (see `subpixel`)."""

    def __init__(self, model, condition, batch):
        self.batch = batch
        self.num_layers = model.num_layers
        self.units = model.num_filters
        self.height, self.width = model.image_shape[:2]
        self.half = model.kernel_size // 2
        # The slab keeps the image rows the first vertical convolution reads.
        self.image_rows = self.half + 1
        blocks = [model.get_layer(block_name(i)) for i in range(self.num_layers)]

        self.vertical_kernels = [_tensor(b.vertical_conv.kernel) for b in blocks]
        self.vertical_biases = [_tensor(b.vertical_conv.bias) for b in blocks]
        horizontal = [subpixel.masked_kernel(b.horizontal_conv)[0] for b in blocks]
        # Layers 1 ..: taps left of the pixel, oldest first (one matrix per
        # layer), and the pixel's own (masked) tap.
        self.left_kernels = tf.stack(
            [tf.reshape(k[: self.half], [-1, 2 * self.units]) for k in horizontal[1:]]
        ) if self.num_layers > 1 else None
        self.centre_kernels = [k[self.half] for k in horizontal]
        self.link_kernels = tf.stack([_tensor(b.link.kernel)[0, 0] for b in blocks])
        self.residuals = [subpixel.pointwise(b.residual_conv) for b in blocks]
        self.skips = [subpixel.pointwise(b.skip_conv) for b in blocks]

        # Per layer, what is added to the horizontal pre-activations at
        # every pixel: the link's bias, the horizontal bias (the first
        # layer's is in the input convolution's) and a vector condition.
        horizontal_biases = [tf.zeros([2 * self.units])] + [
            _tensor(b.horizontal_conv.bias) for b in blocks[1:]
        ]
        self.horizontal_bias = tf.stack(
            [_tensor(b.link.bias) + h for b, h in zip(blocks, horizontal_biases)]
        )[:, tf.newaxis]  # (N, 1, 2p)
        self.vertical_condition = [None] * self.num_layers
        self.condition_map = None
        factors = model.condition_map_factors
        if condition is not None and factors is None:
            vector = model.condition_spec.vector(condition)
            self.vertical_condition = [
                tf.matmul(vector, _tensor(b.vertical_condition.kernel)) for b in blocks
            ]
            self.horizontal_bias = self.horizontal_bias + tf.stack(
                [tf.matmul(vector, _tensor(b.horizontal_condition.kernel)) for b in blocks]
            )
        elif condition is not None:
            self.condition_map = tf.cast(condition, tf.float32)
            self.map_factors = factors
            self.vertical_map_kernels = tf.stack(
                [_tensor(b.vertical_condition_map.kernel)[0, 0] for b in blocks]
            )
            self.horizontal_map_kernels = tf.stack(
                [_tensor(b.horizontal_condition_map.kernel)[0, 0] for b in blocks]
            )
        self.input_conv = subpixel.InputConvolution(
            _FirstHorizontalConvolution(blocks[0].horizontal_conv),
            model.get_layer(categorical.ENCODING),
        )
        self.output_stack = model.cached_output_stack()

    # --- The vertical stack, once per row -----------------------------------

    def _condition_row(self, row, kernels):
        """A condition map's 1 x 1 terms of every layer on image row `row`,
        `(W, N, B, 2p)` (nearest upsampling: the map's row and columns
        that cover it)."""
        rows, cols = self.map_factors
        values = tf.gather(self.condition_map, tf.minimum(row, self.height - 1) // rows, axis=1)
        values = tf.transpose(tf.repeat(values, cols, axis=1), [1, 0, 2])  # (W, B, c)
        return tf.einsum("wbc,ncf->wnbf", values, kernels)

    def _vertical_row(self, row, slab, history):
        """Every layer's vertical pre-activations on image row `row`,
        `(W, N, B, 2p)`, and the history moved on by that row.

        Args:
            row: the row, a scalar.
            slab: `(B, >= n//2 + 1, W + n - 1, E)`, the encoded image rows
                above `row` (zeros above the image), padded by `n // 2`.
            history: `(n//2, N - 1, B, W, p)`, the gated vertical outputs of
                layers `0 .. N - 2` on the `n // 2` rows above `row`.
        """
        rows = slab[:, slab.shape[1] - self.image_rows :]
        condition = None
        if self.condition_map is not None:
            condition = self._condition_row(row, self.vertical_map_kernels)
        pre_activations, outputs = [], []
        padding = [[0, 0], [0, 0], [self.half, self.half], [0, 0]]
        for i in range(self.num_layers):
            if i > 0:
                # Layer i - 1 on the rows above and on this row: (B, n//2 + 1, W, p).
                above = tf.transpose(history[:, i - 1], [1, 0, 2, 3])
                rows = tf.pad(tf.concat([above, outputs[-1][:, tf.newaxis]], 1), padding)
            pre = subpixel.row_convolution(rows, self.vertical_kernels[i], self.vertical_biases[i])
            if self.vertical_condition[i] is not None:
                pre = pre + self.vertical_condition[i]
            if condition is not None:
                pre = pre + condition[:, i]
            pre_activations.append(pre)
            if i + 1 < self.num_layers:
                outputs.append(tf.transpose(_gate(pre), [1, 0, 2]))  # (B, W, p)
        if self.num_layers > 1:
            history = tf.concat([history[1:], tf.stack(outputs)[tf.newaxis]], 0)
        return tf.stack(pre_activations, 1), history

    def initial_state(self):
        # Row 0 reads only the zeros above the image.
        history = tf.zeros(
            [self.half, self.num_layers - 1, self.batch, self.width, self.units]
        )
        slab = tf.zeros(
            [self.batch, self.image_rows, self.width + 2 * self.half, self.input_conv.features]
        )
        row = tf.constant(0)
        vertical, history = self._vertical_row(row, slab, history)
        return row, vertical, history

    def begin_row(self, state):
        _, vertical, _ = state
        # The link of every layer and column; see `subpixel.ROW_MATMUL`.
        context = tf.einsum(subpixel.ROW_MATMUL, vertical, self.link_kernels)
        context = context + self.horizontal_bias
        if self.condition_map is not None:
            context = context + self._condition_row(state[0], self.horizontal_map_kernels)
        return context  # (W, N, B, 2p)

    def end_row(self, state, records, slab):
        row, _, history = state
        vertical, history = self._vertical_row(row + 1, slab, history)
        return row + 1, vertical, history

    # --- The horizontal stack, once per pixel and sub-pixel ------------------

    def initial_carry(self):
        return tf.zeros([self.num_layers - 1, self.batch, self.half * self.units])

    def begin_pixel(self, row_context, carry, col):
        context = row_context[col]  # (N, B, 2p)
        if self.num_layers == 1:
            return [context[0]]
        left = tf.einsum("nbk,nkf->nbf", carry, self.left_kernels)
        return [context[0]] + tf.unstack(context[1:] + left)

    def _layers(self, contexts, features, centre):
        """Every layer's horizontal stack from the first layer's convolution
        `features`; `centre(i, inputs)` is layer `i`'s centre tap (with its
        left taps, for a whole row). Returns the output stack's input and
        each later layer's input."""
        inputs = []
        horizontal, skip = None, 0.0
        for i in range(self.num_layers):
            if i == 0:
                pre = features + contexts[0]
            else:
                inputs.append(horizontal)
                pre = contexts[i] + centre(i, horizontal)
            gated = _gate(pre)
            kernel, bias = self.residuals[i]
            update = _pointwise(gated, kernel) + bias
            horizontal = update if i == 0 else horizontal + update
            kernel, bias = self.skips[i]
            skip = skip + _pointwise(gated, kernel) + bias
        return horizontal + skip, inputs

    def forward(self, pixel_context, features, channel):
        head, inputs = self._layers(
            pixel_context,
            features,
            lambda i, x: tf.matmul(x, self.centre_kernels[i]),
        )
        return self.output_stack(head, channel), inputs

    def end_pixel(self, activations, carry):
        if self.num_layers == 1:
            return carry, tf.zeros([self.batch, 1])
        record = tf.stack(activations)
        return tf.concat([carry[..., self.units :], record], -1), record

    def known_row(self, row_context, features):
        """`forward` and `end_pixel` at every pixel of a known row at once."""
        contexts = tf.unstack(row_context, axis=1)  # N x (W, B, 2p)

        def centre(i, inputs):
            left = subpixel.left_taps(inputs, self.half)
            return _pointwise(left, self.left_kernels[i - 1]) + _pointwise(
                inputs, self.centre_kernels[i]
            )

        _, inputs = self._layers(contexts, features, centre)
        if self.num_layers == 1:
            return tf.zeros([self.width, self.batch, 1])
        return tf.stack(inputs, 1)


def _pointwise(x, kernel):
    """`x @ kernel` over the last axis, for any rank (no batched matmul)."""
    return tf.tensordot(x, kernel, 1)


def build_loop(model, jit_compile=False, teacher_forced_rows=True):
    """The traced cached sampling loop of a `GatedPixelCNN`
    (`subpixel.build_loop`)."""
    return subpixel.build_loop(
        model,
        _GatedPixelCNNNetwork,
        jit_compile=jit_compile,
        teacher_forced_rows=teacher_forced_rows,
    )


def cached_logits(model, images, condition=None):
    """The logits the cached loop computes for `images`, which equal the
    full network's (`subpixel.teacher_forced_logits`)."""
    return subpixel.teacher_forced_logits(model, _GatedPixelCNNNetwork, images, condition)
