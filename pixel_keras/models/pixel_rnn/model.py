"""The Row LSTM and Diagonal BiLSTM PixelRNNs (van den Oord et al., 2016)."""

import keras

from pixel_keras.layers import DiagonalBiLSTM
from pixel_keras.layers import MaskedConv2D
from pixel_keras.layers import RowLSTM
from pixel_keras.models import categorical
from pixel_keras.models.pixel_rnn import diagonal_bilstm_sampler
from pixel_keras.models.pixel_rnn import row_lstm_sampler
from pixel_keras.models.pixel_rnn.layer_names import INPUT_CONV_BACKWARD
from pixel_keras.models.pixel_rnn.layer_names import SKIP_SUM
from pixel_keras.models.pixel_rnn.layer_names import layer_part
from pixel_keras.models.pixel_rnn.presets import PIXEL_RNN_PRESETS

KINDS = ("row_lstm", "diagonal_bilstm")


@keras.saving.register_keras_serializable(package="pixel_keras")
class PixelRNN(categorical.CategoricalPixelModel):
    """PixelRNN: a stack of Row LSTM or Diagonal BiLSTM layers.

    A 7 x 7 mask-A convolution to 2h channels, then `num_layers` recurrent
    layers, each an LSTM with h units (`RowLSTM` or `DiagonalBiLSTM`) whose
    output a 1 x 1 mask-B convolution brings back to 2h and adds to the
    layer's input (residual connections). Every layer also feeds the output
    through its own learned 1 x 1 projection (skip connections); their sum
    goes through ReLU, a 1 x 1 convolution to `output_filters`, ReLU and a
    1 x 1 convolution to the logits of a softmax per channel (sigmoid for
    binarized images). The Row LSTM sees a triangle above each pixel; the
    Diagonal BiLSTM sees every earlier pixel and is slower. (Its first layer's
    backward direction also reads a 7 x 7 mask-B view of the image, which
    includes each pixel itself: with the mask-A view alone, the last pixel of
    each row would be invisible to most of the next row.)

    Args:
        image_shape: `(height, width, channels)`.
        num_levels: int in `[2, 65536]`, values per channel (2: Bernoulli);
            above 256, images are int32 rather than uint8.
        kind: `"row_lstm"` or `"diagonal_bilstm"`.
        num_filters: int h, the LSTM units; the residual stream has 2h
            channels. At least the number of channels.
        num_layers: int, recurrent layers.
        output_filters: int, channels of the hidden output layer.
        num_classes: int or None; a class-conditional model adds a learned
            per-class bias to every layer's input.
        conditional_shape: tuple or None; a model conditioned on values of
            this shape (a vector, a small map: `p(x | z)`) adds a learned
            linear function of them to every layer's input. At most one of
            `num_classes` and `conditional_shape`.
        input_encoding: how the first layer sees pixel values: `"scaled"`
            (to [-1, 1], for intensities), `"one_hot"` or `"embedding"`
            (for unordered values such as discrete latent codes); see
            `PixelEncoding`.
        embedding_dim: int, features per channel for `"embedding"`.
        **kwargs: base `keras.Model` arguments.

    Call arguments:
        inputs: float `(batch, height, width, channels)` images with integer
            values in `[0, num_levels - 1]`, or `{"images", "condition"}`.

    Returns:
        `(batch, height, width, channels * num_levels)` logits (`channels`
        for 2 levels).

    Example:

    ```python
    model = PixelRNN.from_preset("tiny", kind="row_lstm")
    model.compile(optimizer="adam")
    model.fit(images, epochs=1)  # loss in bits/dim
    ```

    Reference:
        van den Oord, Kalchbrenner, Kavukcuoglu. Pixel Recurrent Neural
        Networks. ICML 2016. https://arxiv.org/abs/1601.06759
    """

    presets = PIXEL_RNN_PRESETS
    @property
    def recipe_family(self):
        """`"row_lstm"` or `"diagonal_bilstm"`, as the recipes name them."""
        return self.kind

    config_keys = (
        "image_shape",
        "num_levels",
        "kind",
        "num_filters",
        "num_layers",
        "output_filters",
        "num_classes",
        "conditional_shape",
        "input_encoding",
        "embedding_dim",
    )

    def __init__(
        self,
        image_shape=(32, 32, 3),
        num_levels=256,
        kind="diagonal_bilstm",
        num_filters=128,
        num_layers=12,
        output_filters=1024,
        num_classes=None,
        conditional_shape=None,
        input_encoding="scaled",
        embedding_dim=16,
        **kwargs,
    ):
        if kind not in KINDS:
            raise ValueError(f"Expected `kind` in {KINDS}. Received: kind={kind!r}")
        stem = categorical.network_inputs(
            image_shape, num_levels, num_filters, num_layers, output_filters,
            num_classes, conditional_shape, input_encoding, embedding_dim,
            dtype=kwargs.pop("dtype", None),
        )
        image_shape, condition_spec, policy = stem.image_shape, stem.condition_spec, stem.policy
        channels, condition, encoded = image_shape[-1], stem.condition, stem.encoded
        x = MaskedConv2D(
            2 * num_filters,
            7,
            mask_type="A",
            num_channel_groups=channels,
            dtype=policy,
            name=categorical.INPUT_CONV,
        )(encoded)
        backward_inputs = None
        if kind == "diagonal_bilstm":
            # The first backward direction also reads each pixel itself (its
            # output moves down a row), so the last pixel of the row above
            # reaches every pixel of the next row, not only those within
            # reach of the mask-A window.
            backward_inputs = MaskedConv2D(
                2 * num_filters, 7, mask_type="B", dtype=policy, name=INPUT_CONV_BACKWARD
            )(encoded)
        skips = []
        for i in range(num_layers):
            x = categorical.add_condition_bias(
                x, condition, layer_part(i, "class_bias"), dtype=policy
            )
            if kind == "row_lstm":
                lstm = RowLSTM(
                    num_filters,
                    num_channel_groups=channels,
                    dtype=policy,
                    name=layer_part(i, "lstm"),
                )
                y = lstm(x)
            else:
                lstm = DiagonalBiLSTM(
                    num_filters,
                    num_channel_groups=channels,
                    dtype=policy,
                    name=layer_part(i, "lstm"),
                )
                y = lstm(x, backward_inputs=backward_inputs if i == 0 else None)
            y = MaskedConv2D(
                2 * num_filters,
                1,
                num_channel_groups=channels,
                dtype=policy,
                name=layer_part(i, "residual"),
            )(y)
            x = x + y
            skips.append(
                MaskedConv2D(
                    2 * num_filters,
                    1,
                    num_channel_groups=channels,
                    dtype=policy,
                    name=layer_part(i, "skip"),
                )(x)
            )
        outputs = categorical.output_stack(
            keras.layers.Add(dtype=policy, name=SKIP_SUM)(skips)
            if len(skips) > 1
            else skips[0],
            output_filters,
            image_shape,
            num_levels,
            dtype=policy,
        )
        super().__init__(inputs=stem.inputs, outputs=outputs, dtype=policy, **kwargs)

        self.image_shape = image_shape
        self.num_levels = num_levels
        self.kind = kind
        self.num_filters = num_filters
        self.num_layers = num_layers
        self.output_filters = output_filters
        self.num_classes = num_classes
        self.conditional_shape = condition_spec.shape
        self.condition_spec = condition_spec
        self.input_encoding = input_encoding
        self.embedding_dim = embedding_dim

    def build_cached_loop(self, jit_compile=False, teacher_forced_rows=True):
        """The cached sampling loop of the model's kind
        (`row_lstm_sampler.py`, `diagonal_bilstm_sampler.py`), with
        `jit_compile` compiled by XLA; `teacher_forced_rows` as in
        `AutoregressiveImageModel.build_cached_loop`."""
        sampler = row_lstm_sampler if self.kind == "row_lstm" else diagonal_bilstm_sampler
        return sampler.build_loop(
            self, jit_compile=jit_compile, teacher_forced_rows=teacher_forced_rows
        )
