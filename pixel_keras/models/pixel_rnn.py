"""The Row LSTM and Diagonal BiLSTM PixelRNNs (van den Oord et al., 2016)."""

import keras

from pixel_keras.layers import DiagonalBiLSTM
from pixel_keras.layers import MaskedConv2D
from pixel_keras.layers import RowLSTM
from pixel_keras.models.autoregressive import check_conditional_shape
from pixel_keras.models.autoregressive import check_image_arguments
from pixel_keras.models.autoregressive import image_inputs
from pixel_keras.models.categorical_head import CategoricalPixelModel
from pixel_keras.models.categorical_head import add_class_bias
from pixel_keras.models.categorical_head import check_stack_arguments
from pixel_keras.models.categorical_head import output_stack
from pixel_keras.models.categorical_head import MAX_LEVELS
from pixel_keras.models.categorical_head import pixel_encoding

KINDS = ("row_lstm", "diagonal_bilstm")


@keras.saving.register_keras_serializable(package="pixel_keras")
class PixelRNN(CategoricalPixelModel):
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
            values in `[0, num_levels - 1]`, or `{"images", "labels"}`.

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

    preset_family = "pixel_rnn"
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
        image_shape = check_image_arguments(
            image_shape, num_levels, num_classes, max_levels=MAX_LEVELS
        )
        conditional_shape = check_conditional_shape(conditional_shape, num_classes)
        if kind not in KINDS:
            raise ValueError(f"Expected `kind` in {KINDS}. Received: kind={kind!r}")
        channels = image_shape[-1]
        check_stack_arguments(channels, num_filters, num_layers, output_filters)

        inputs, images, condition = image_inputs(
            image_shape, num_classes, conditional_shape
        )
        encoded = pixel_encoding(num_levels, input_encoding, embedding_dim)(images)
        x = MaskedConv2D(
            2 * num_filters, 7, mask_type="A", num_channel_groups=channels, name="input_conv"
        )(encoded)
        backward_inputs = None
        if kind == "diagonal_bilstm":
            # The first backward direction also reads each pixel itself (its
            # output moves down a row), so the last pixel of the row above
            # reaches every pixel of the next row, not only those within
            # reach of the mask-A window.
            backward_inputs = MaskedConv2D(
                2 * num_filters, 7, mask_type="B", name="input_conv_backward"
            )(encoded)
        skips = []
        for i in range(num_layers):
            x = add_class_bias(x, condition, f"layer_{i}_class_bias")
            if kind == "row_lstm":
                lstm = RowLSTM(num_filters, num_channel_groups=channels, name=f"layer_{i}_lstm")
                y = lstm(x)
            else:
                lstm = DiagonalBiLSTM(
                    num_filters, num_channel_groups=channels, name=f"layer_{i}_lstm"
                )
                y = lstm(x, backward_inputs=backward_inputs if i == 0 else None)
            y = MaskedConv2D(
                2 * num_filters, 1, num_channel_groups=channels, name=f"layer_{i}_residual"
            )(y)
            x = x + y
            skips.append(
                MaskedConv2D(
                    2 * num_filters, 1, num_channel_groups=channels, name=f"layer_{i}_skip"
                )(x)
            )
        outputs = output_stack(
            keras.layers.Add(name="skip_sum")(skips) if len(skips) > 1 else skips[0],
            output_filters,
            image_shape,
            num_levels,
        )
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)

        self.image_shape = image_shape
        self.num_levels = num_levels
        self.kind = kind
        self.num_filters = num_filters
        self.num_layers = num_layers
        self.output_filters = output_filters
        self.num_classes = num_classes
        self.conditional_shape = conditional_shape
        self.input_encoding = input_encoding
        self.embedding_dim = embedding_dim
