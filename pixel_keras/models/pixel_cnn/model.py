"""The PixelCNN of the PixelRNN paper (van den Oord et al., 2016)."""

import keras
from keras import ops

from pixel_keras.layers import MaskedConv2D
from pixel_keras.models import categorical
from pixel_keras.models.pixel_cnn import cached_sampler
from pixel_keras.models.pixel_cnn.layer_names import block_layer
from pixel_keras.models.pixel_cnn.presets import PIXEL_CNN_PRESETS


@keras.saving.register_keras_serializable(package="pixel_keras")
class PixelCNN(categorical.CategoricalPixelModel):
    """PixelCNN: masked convolutions and a softmax per sub-pixel.

    A 7 x 7 mask-A convolution to 2h channels, `num_layers` residual blocks
    (ReLU, 1 x 1 to h, ReLU, 3 x 3 mask B, ReLU, 1 x 1 back to 2h, added to
    the block's input), then ReLU, a 1 x 1 convolution to `output_filters`,
    ReLU and a 1 x 1 convolution to the logits: a `num_levels`-way softmax
    per channel, or a sigmoid for binarized images. Every convolution keeps
    the R -> G -> B order of the image's channels. The fastest of the paper's
    three models, with a blind spot above-right that the PixelRNNs do not
    have.

    Args:
        image_shape: `(height, width, channels)`.
        num_levels: int in `[2, 65536]`, values per channel (2: Bernoulli);
            above 256, images are int32 rather than uint8.
        num_filters: int h; the residual stream has 2h channels, and h must
            be at least the number of channels.
        num_layers: int, residual blocks.
        output_filters: int, channels of the hidden output layer.
        num_classes: int or None; a class-conditional model adds a learned
            per-class bias to every block's input.
        conditional_shape: tuple or None; a model conditioned on values of
            this shape (a vector, a small map: `p(x | z)`) adds a learned
            linear function of them to every block's input. At most one of
            `num_classes` and `conditional_shape`.
        input_encoding: how the first layer sees pixel values: `"scaled"`
            (to [-1, 1], for intensities), `"one_hot"` or `"embedding"`
            (for unordered values such as discrete latent codes); see
            `PixelEncoding`.
        embedding_dim: int, features per channel for `"embedding"`.
        weight_norm: bool, whether every convolution is weight-normalized
            (Salimans & Kingma, 2016), the masked ones over the taps their
            masks keep; initialize it on a batch
            (`training.initialize_weight_norm`, which `pixel-keras train`
            runs); until then it computes what the plain model would.
        **kwargs: base `keras.Model` arguments.

    Call arguments:
        inputs: float `(batch, height, width, channels)` images with integer
            values in `[0, num_levels - 1]`, or `{"images", "condition"}`.

    Returns:
        `(batch, height, width, channels * num_levels)` logits (`channels`
        for 2 levels); channel `c` owns a contiguous block.

    Example:

    ```python
    model = PixelCNN.from_preset("tiny")
    model.compile(optimizer="adam")
    model.fit(images, epochs=1)  # loss in bits/dim
    ```

    Reference:
        van den Oord, Kalchbrenner, Kavukcuoglu. Pixel Recurrent Neural
        Networks. ICML 2016. https://arxiv.org/abs/1601.06759
    """

    presets = PIXEL_CNN_PRESETS
    recipe_family = "pixel_cnn"
    cached_loop_builder = staticmethod(cached_sampler.build_loop)
    config_keys = (
        "image_shape",
        "num_levels",
        "num_filters",
        "num_layers",
        "output_filters",
        "num_classes",
        "conditional_shape",
        "input_encoding",
        "embedding_dim",
        "weight_norm",
    )

    def __init__(
        self,
        image_shape=(32, 32, 3),
        num_levels=256,
        num_filters=128,
        num_layers=15,
        output_filters=1024,
        num_classes=None,
        conditional_shape=None,
        input_encoding="scaled",
        embedding_dim=16,
        weight_norm=False,
        **kwargs,
    ):
        stem = categorical.network_inputs(
            image_shape, num_levels, num_filters, num_layers, output_filters,
            num_classes, conditional_shape, input_encoding, embedding_dim,
            dtype=kwargs.pop("dtype", None),
        )
        image_shape, condition_spec, policy = stem.image_shape, stem.condition_spec, stem.policy
        channels, condition, encoded = image_shape[-1], stem.condition, stem.encoded

        def masked(filters, kernel_size, name, mask_type="B"):
            return MaskedConv2D(
                filters,
                kernel_size,
                mask_type=mask_type,
                num_channel_groups=channels,
                weight_norm=weight_norm,
                dtype=policy,
                name=name,
            )

        x = masked(2 * num_filters, 7, categorical.INPUT_CONV, mask_type="A")(encoded)
        for i in range(num_layers):
            x = categorical.add_condition_bias(
                x, condition, block_layer(i, "class_bias"), dtype=policy
            )
            y = masked(num_filters, 1, block_layer(i, "reduce"))(ops.relu(x))
            y = masked(num_filters, 3, block_layer(i, "conv"))(ops.relu(y))
            y = masked(2 * num_filters, 1, block_layer(i, "expand"))(ops.relu(y))
            x = x + y
        outputs = categorical.output_stack(
            x, output_filters, image_shape, num_levels, dtype=policy,
            weight_norm=weight_norm,
        )
        super().__init__(inputs=stem.inputs, outputs=outputs, dtype=policy, **kwargs)

        self.image_shape = image_shape
        self.num_levels = num_levels
        self.num_filters = num_filters
        self.num_layers = num_layers
        self.output_filters = output_filters
        self.num_classes = num_classes
        self.conditional_shape = condition_spec.shape
        self.condition_spec = condition_spec
        self.input_encoding = input_encoding
        self.embedding_dim = embedding_dim
        self.weight_norm = bool(weight_norm)
