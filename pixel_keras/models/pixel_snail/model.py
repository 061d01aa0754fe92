"""PixelSNAIL (Chen et al., 2018) as a Keras 3 model."""

import keras
from keras import ops

from pixel_keras.conditioning import ConditionSpec
from pixel_keras.layers import CausalAttention
from pixel_keras.layers import DownRightShiftedConv2D
from pixel_keras.layers import DownShiftedConv2D
from pixel_keras.layers import GatedResNet
from pixel_keras.layers import background_planes
from pixel_keras.layers import down_shift
from pixel_keras.layers import right_shift
from pixel_keras.models.autoregressive import AutoregressiveImageModel
from pixel_keras.models.autoregressive import check_image_arguments
from pixel_keras.models.autoregressive import check_positive_int
from pixel_keras.models.autoregressive import head_dtype_policy
from pixel_keras.models.autoregressive import image_inputs
from pixel_keras.models.autoregressive import model_dtype_policy
from pixel_keras.models.pixel_cnn_pp.model import mixture_from_outputs
from pixel_keras.models.pixel_snail import cached_sampler
from pixel_keras.models.pixel_snail.layer_names import OUTPUT
from pixel_keras.models.pixel_snail.layer_names import STEM_ABOVE
from pixel_keras.models.pixel_snail.layer_names import STEM_LEFT
from pixel_keras.models.pixel_snail.layer_names import attention_layer
from pixel_keras.models.pixel_snail.layer_names import content_layer
from pixel_keras.models.pixel_snail.layer_names import merge_layer
from pixel_keras.models.pixel_snail.layer_names import query_layer
from pixel_keras.models.pixel_snail.layer_names import resnet_layer
from pixel_keras.models.pixel_snail.presets import PIXEL_SNAIL_PRESETS


@keras.saving.register_keras_serializable(package="pixel_keras")
class PixelSNAIL(AutoregressiveImageModel):
    """PixelSNAIL: gated causal convolutions and causal self-attention.

    One stream of features, PixelCNN++'s down-right-shifted one: a first
    layer that sees the row above (three columns wide) and the pixel to the
    left, then `num_blocks` blocks, each `num_resnet` gated residual blocks
    of 2 x 2 down-right-shifted convolutions followed by one causal
    attention. The convolutions see only the pixels above and to the left;
    the attention lets every pixel read every earlier pixel in raster order,
    at any distance. Its keys and values are projected from a 1 x 1 gated
    residual block over the features, the image (in `[-1, 1]`) and two
    background planes (each pixel's row and column, `background_planes`),
    its queries from one over the features and the background; since the
    keys see the raw pixels, pixel `i` reads pixels `j < i` only. A 1 x 1
    gated residual block adds its output (as the skip input) to the
    features. The head outputs, per pixel, the parameters of a
    `DiscretizedLogisticMixture` over its channels, as PixelCNN++'s.

    Train it with `compile()` and `fit(...)` on batches of images (or
    `{"images", "condition"}` for a conditional model): the loss is the
    negative log-likelihood in bits per dimension.

    Args:
        image_shape: `(height, width, channels)`.
        num_levels: int in `[2, 256]`, the number of values per channel.
        num_filters: int, channels of the features.
        num_blocks: int, attention blocks.
        num_resnet: int, gated residual blocks before each attention.
        num_heads: int, attention heads.
        key_dim: int, the size of each head's queries and keys.
        value_dim: int, the size of each head's values.
        num_logistic_mix: int, mixture components per pixel.
        dropout: float in `[0, 1)`, dropout in every gated residual block.
        attention_dropout: float in `[0, 1)`, dropout of the attention
            weights.
        num_classes: int or None; when set, the model takes class labels as
            its `condition` input, whose one-hot vector conditions every
            gated block.
        min_log_scale: float, lower bound of the logistics' log-scales.
        conditional_shape: tuple or None; a model conditioned on values of
            this shape takes them, flattened, as a class label is taken. At
            most one of `num_classes` and `conditional_shape`.
        **kwargs: base `keras.Model` arguments (name, dtype, ...).

    Call arguments:
        inputs: float `(batch, height, width, channels)` images with integer
            values in `[0, num_levels - 1]`, or for a conditional model a
            dict `{"images": ..., "condition": ...}`.
        training: Python bool, whether dropout is active.

    Returns:
        `(batch, height, width, num_params)` distribution parameters.

    Example:

    ```python
    model = PixelSNAIL.from_preset("tiny")
    model.compile()
    model.fit(images, epochs=1, batch_size=32)  # loss in bits/dim
    samples = model.sample(4, seed=0)  # uint8 (4, 8, 8, 1)
    ```

    References:
        Chen, Mishra, Rohaninejad, Abbeel. PixelSNAIL: An Improved
        Autoregressive Generative Model. ICML 2018.
        https://arxiv.org/abs/1712.09763
    """

    presets = PIXEL_SNAIL_PRESETS
    recipe_family = "pixel_snail"
    config_keys = (
        "image_shape",
        "num_levels",
        "num_filters",
        "num_blocks",
        "num_resnet",
        "num_heads",
        "key_dim",
        "value_dim",
        "num_logistic_mix",
        "dropout",
        "attention_dropout",
        "num_classes",
        "min_log_scale",
        "conditional_shape",
    )

    def __init__(
        self,
        image_shape=(32, 32, 3),
        num_levels=256,
        num_filters=256,
        num_blocks=12,
        num_resnet=4,
        num_heads=1,
        key_dim=16,
        value_dim=128,
        num_logistic_mix=10,
        dropout=0.5,
        attention_dropout=0.0,
        num_classes=None,
        min_log_scale=-7.0,
        conditional_shape=None,
        **kwargs,
    ):
        image_shape = check_image_arguments(image_shape, num_levels)
        condition_spec = ConditionSpec(num_classes, conditional_shape)
        for name, value in (
            ("num_filters", num_filters),
            ("num_blocks", num_blocks),
            ("num_heads", num_heads),
            ("key_dim", key_dim),
            ("value_dim", value_dim),
            ("num_logistic_mix", num_logistic_mix),
        ):
            check_positive_int(name, value)
        check_positive_int("num_resnet", num_resnet, minimum=0)
        for name, value in (("dropout", dropout), ("attention_dropout", attention_dropout)):
            if not 0.0 <= value < 1.0:
                raise ValueError(f"Expected `{name}` in [0, 1). Received: {name}={value}")

        height, width, channels = image_shape
        policy = model_dtype_policy(kwargs.pop("dtype", None))
        inputs, images, condition = image_inputs(image_shape, condition_spec)

        # Rescaled to [-1, 1]; the stem also reads a channel of ones, which
        # tells the zero padding of its convolutions from black pixels.
        x = images * (2.0 / (num_levels - 1)) - 1.0
        padded = ops.concatenate([x, ops.ones_like(x[..., :1])], axis=-1)
        background = ops.zeros_like(x[..., :1]) + background_planes(height, width)

        def block(name, kernel_size=None):
            return GatedResNet(
                shift="down_right",
                kernel_size=kernel_size,
                dropout=dropout,
                dtype=policy,
                name=name,
            )

        # The first layer sees the row above (three columns: the up-left,
        # up and up-right pixels) and the pixel to the left, not the pixel
        # itself.
        features = down_shift(
            DownShiftedConv2D(num_filters, (1, 3), dtype=policy, name=STEM_ABOVE)(padded)
        ) + right_shift(
            DownRightShiftedConv2D(num_filters, (2, 1), dtype=policy, name=STEM_LEFT)(padded)
        )
        for b in range(num_blocks):
            for i in range(num_resnet):
                features = block(resnet_layer(b, i))(features, condition=condition)
            content = block(content_layer(b), (1, 1))(
                ops.concatenate([x, features, background], axis=-1), condition=condition
            )
            query = block(query_layer(b), (1, 1))(
                ops.concatenate([features, background], axis=-1), condition=condition
            )
            # The keys see the raw pixels: a pixel reads only earlier ones.
            mixed = CausalAttention(
                num_heads=num_heads,
                key_dim=key_dim,
                value_dim=value_dim,
                strict=True,
                dropout=attention_dropout,
                dtype=policy,
                name=attention_layer(b),
            )(query, content)
            features = block(merge_layer(b), (1, 1))(
                features, skip=mixed, condition=condition
            )

        num_params = num_logistic_mix * (1 + 2 * channels + channels * (channels - 1) // 2)
        # The mixture's parameters in the variable dtype (float32 under a
        # mixed policy), as PixelCNN++'s.
        outputs = keras.layers.Dense(num_params, dtype=head_dtype_policy(policy), name=OUTPUT)(
            ops.elu(features)
        )
        super().__init__(inputs=inputs, outputs=outputs, dtype=policy, **kwargs)

        self.image_shape = image_shape
        self.num_levels = num_levels
        self.num_filters = num_filters
        self.num_blocks = num_blocks
        self.num_resnet = num_resnet
        self.num_heads = num_heads
        self.key_dim = key_dim
        self.value_dim = value_dim
        self.num_logistic_mix = num_logistic_mix
        self.dropout = dropout
        self.attention_dropout = attention_dropout
        self.num_classes = num_classes
        self.min_log_scale = min_log_scale
        self.conditional_shape = condition_spec.shape
        self.condition_spec = condition_spec

    # --- Distribution ---------------------------------------------------------

    def output_distribution(self, outputs, temperature=1.0):
        """The per-pixel `DiscretizedLogisticMixture` given the network's
        outputs, as `PixelCNNPlusPlus.output_distribution` makes it.

        Args:
            outputs: `(..., num_params)` tensor, the model's output or any
                slice of it that keeps the last axis.
            temperature: positive float, or a tensor that broadcasts to
                `outputs.shape[:-1]`.

        Returns:
            A `DiscretizedLogisticMixture` with batch shape
            `outputs.shape[:-1]` and event shape `(channels,)`.
        """
        return mixture_from_outputs(
            outputs,
            self.num_logistic_mix,
            self.image_shape[-1],
            self.num_levels,
            self.min_log_scale,
            temperature,
        )

    # --- Sampling -------------------------------------------------------------

    cached_loop_compiles = True

    def build_cached_loop(self, jit_compile=False, teacher_forced_rows=True):
        """The cached sampling loop (`cached_sampler.py`), with `jit_compile`
        compiled by XLA; `teacher_forced_rows` as in
        `AutoregressiveImageModel.build_cached_loop`."""
        return cached_sampler.build_loop(
            self, jit_compile=jit_compile, teacher_forced_rows=teacher_forced_rows
        )
