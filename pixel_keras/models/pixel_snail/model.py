"""PixelSNAIL (Chen et al., 2018) as a Keras 3 model."""

import keras
from keras import ops

from pixel_keras.conditioning import CONDITION
from pixel_keras.conditioning import ConditionSpec
from pixel_keras.distributions import pixel_categorical
from pixel_keras.layers import CausalAttention
from pixel_keras.layers import DownRightShiftedConv2D
from pixel_keras.layers import DownShiftedConv2D
from pixel_keras.layers import GatedResNet
from pixel_keras.layers import MaskedConv2D
from pixel_keras.layers import WeightNormDense
from pixel_keras.layers import background_planes
from pixel_keras.layers import down_shift
from pixel_keras.layers import right_shift
from pixel_keras.layers.pixel_encoding import ENCODINGS
from pixel_keras.models import categorical
from pixel_keras.models.autoregressive import AutoregressiveImageModel
from pixel_keras.models.autoregressive import check_image_arguments
from pixel_keras.models.autoregressive import check_positive_int
from pixel_keras.models.autoregressive import condition_map_factors
from pixel_keras.models.autoregressive import head_dtype_policy
from pixel_keras.models.autoregressive import image_inputs
from pixel_keras.models.autoregressive import model_dtype_policy
from pixel_keras.models.logistic_mixture_head import mixture_from_outputs
from pixel_keras.models.logistic_mixture_head import num_params
from pixel_keras.models.pixel_snail import cached_sampler
from pixel_keras.models.pixel_snail.layer_names import HEAD_PIXEL
from pixel_keras.models.pixel_snail.layer_names import OUTPUT
from pixel_keras.models.pixel_snail.layer_names import STEM_ABOVE
from pixel_keras.models.pixel_snail.layer_names import STEM_LEFT
from pixel_keras.models.pixel_snail.layer_names import attention_layer
from pixel_keras.models.pixel_snail.layer_names import content_layer
from pixel_keras.models.pixel_snail.layer_names import merge_layer
from pixel_keras.models.pixel_snail.layer_names import query_layer
from pixel_keras.models.pixel_snail.layer_names import resnet_layer
from pixel_keras.models.pixel_snail.presets import PIXEL_SNAIL_PRESETS

# The heads: a discretized logistic mixture over ordered intensities (the
# paper's), or a softmax per sub-pixel (unordered values such as the codes
# of a discrete latent map, up to `categorical.MAX_LEVELS` of them).
HEADS = ("logistic_mixture", "categorical")
# The most values per channel the mixture head models: it discretizes
# intensities into at most 256 bins (uint8 images).
MAX_MIXTURE_LEVELS = 256


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
    residual block over the features, the (encoded) image and two
    background planes (each pixel's row and column, `background_planes`),
    its queries from one over the features and the background; since the
    keys see the raw pixels, pixel `i` reads pixels `j < i` only. A 1 x 1
    gated residual block adds its output (as the skip input) to the
    features.

    Two heads (`head`):

    - `"logistic_mixture"` (the paper's): per pixel, the parameters of a
      `DiscretizedLogisticMixture` over its channels, as PixelCNN++'s. For
      intensities, whose order means something; at most 256 levels.
    - `"categorical"`: a `num_levels`-way softmax per channel (a sigmoid
      for 2 levels), channels in R -> G -> B order, through the output
      stack of the PixelRNN paper's models (ReLU, 1 x 1, ReLU, 1 x 1, the
      convolutions masked by channel group). For unordered values, such as
      the codes of a VQ-VAE's latent map (VQ-VAE-2's priors are PixelSNAILs
      with a softmax over 512 codes); 2 to 65,536 levels, and the one head
      above 256 (images are then int32). The stream sees no part of a
      pixel itself, so for colour images a 1 x 1 mask-A convolution of the
      pixel adds its earlier channels to the head's input: channel `c`'s
      softmax reads channels `< c`. Its channels are drawn one at a time.

    How the network sees pixel values (`input_encoding`, as the Gated
    PixelCNN's): scaled to `[-1, 1]` (intensities), one-hot, or a learned
    embedding per value and channel (unordered codes; the one-hot of 65,536
    levels would make the first layer's kernel 65,536 rows tall).

    The condition (one input, `condition`): class labels (`num_classes`, a
    one-hot vector), values of shape `(h, w, c)` whose `h` and `w` divide
    the image's height and width (a spatial map, such as the top codes a
    VQ-VAE-2 bottom prior is conditioned on: each gated block adds a 1 x 1
    projection of it, upsampled by repeating each value, to its gates), or
    values of any other shape (flattened to a vector, which each gated
    block projects and adds to its gates at every pixel, as a label).

    Train it with `compile()` and `fit(...)` on batches of images (or
    `{"images", "condition"}` for a conditional model): the loss is the
    negative log-likelihood in bits per dimension.

    Args:
        image_shape: `(height, width, channels)`.
        num_levels: int, the number of values per channel: in `[2, 256]`
            with the mixture head, `[2, 65536]` with the categorical one.
        num_filters: int, channels of the features.
        num_blocks: int, attention blocks.
        num_resnet: int, gated residual blocks before each attention.
        num_heads: int, attention heads.
        key_dim: int, the size of each head's queries and keys.
        value_dim: int, the size of each head's values.
        num_logistic_mix: int, mixture components per pixel (mixture head;
            the categorical head ignores it).
        dropout: float in `[0, 1)`, dropout in every gated residual block.
        attention_dropout: float in `[0, 1)`, dropout of the attention
            weights.
        num_classes: int or None; when set, the model takes class labels as
            its `condition` input, whose one-hot vector conditions every
            gated block.
        min_log_scale: float, lower bound of the logistics' log-scales
            (mixture head).
        conditional_shape: tuple or None, the shape of one image's
            condition values (see above). At most one of `num_classes` and
            `conditional_shape`.
        head: `"logistic_mixture"` (the default) or `"categorical"`; see
            above. More than 256 levels need `"categorical"`.
        input_encoding: how the network sees pixel values: `"scaled"` (the
            default, for intensities), `"one_hot"` or `"embedding"` (for
            unordered values); see `PixelEncoding`.
        embedding_dim: int, features per channel for `"embedding"`.
        output_filters: int or None, channels of the categorical head's
            hidden 1 x 1 layer (at least the image's channels); None for
            `num_filters`. The mixture head ignores it.
        weight_norm: bool, whether the convolutions, the gated blocks' skip
            projections and the head are weight-normalized (Salimans &
            Kingma, 2016), as in the official code; the condition's and the
            attention's projections are not. Initialize such a model on a
            real batch before training (`training.initialize_weight_norm`,
            which `pixel-keras train` runs); until then it computes what the
            same model without weight normalization would.
        **kwargs: base `keras.Model` arguments (name, dtype, ...).

    Call arguments:
        inputs: float `(batch, height, width, channels)` images with integer
            values in `[0, num_levels - 1]`, or for a conditional model a
            dict `{"images": ..., "condition": ...}`.
        training: Python bool, whether dropout is active.

    Returns:
        `(batch, height, width, num_params)`: the mixture's parameters, or
        `channels * num_levels` logits (`channels` for 2 levels; channel
        `c` owns a contiguous block).

    Raises:
        ValueError: for a bad argument, naming it, before anything is built;
            among them more than 256 levels with the mixture head, and a
            spatial `conditional_shape` whose `h` and `w` do not divide the
            image's.

    Example:

    ```python
    model = PixelSNAIL.from_preset("tiny")
    model.compile()
    model.fit(images, epochs=1, batch_size=32)  # loss in bits/dim
    samples = model.sample(4, seed=0)  # uint8 (4, 8, 8, 1)

    # A prior over a VQ-VAE's 32 x 32 map of 512 codes.
    prior = PixelSNAIL.from_preset("vqvae2_top")
    # Its bottom prior: 64 x 64 codes given the top map's embedded codes.
    bottom = PixelSNAIL.from_preset(
        "vqvae2_top", image_shape=(64, 64, 1), num_blocks=1, num_resnet=8,
        conditional_shape=(32, 32, 64))
    bottom.sample(1, seed=0, condition=top_embeddings)  # int32 codes
    ```

    References:
        Chen, Mishra, Rohaninejad, Abbeel. PixelSNAIL: An Improved
        Autoregressive Generative Model. ICML 2018.
        https://arxiv.org/abs/1712.09763

        Razavi, van den Oord, Vinyals. Generating Diverse High-Fidelity
        Images with VQ-VAE-2. NeurIPS 2019. https://arxiv.org/abs/1906.00446
    """

    presets = PIXEL_SNAIL_PRESETS
    recipe_family = "pixel_snail"
    cached_loop_builder = staticmethod(cached_sampler.build_loop)
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
        "head",
        "input_encoding",
        "embedding_dim",
        "output_filters",
        "weight_norm",
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
        head="logistic_mixture",
        input_encoding="scaled",
        embedding_dim=16,
        output_filters=None,
        weight_norm=False,
        **kwargs,
    ):
        if head not in HEADS:
            raise ValueError(f"Expected `head` to be one of {HEADS}. Received: head={head!r}")
        categorical_head = head == "categorical"
        if (
            not categorical_head
            and isinstance(num_levels, int)
            and num_levels > MAX_MIXTURE_LEVELS
        ):
            raise ValueError(
                f"Expected `num_levels` in [2, {MAX_MIXTURE_LEVELS}] with "
                "head='logistic_mixture' (a mixture over ordered intensities); "
                f"up to {categorical.MAX_LEVELS} levels, such as a latent map's codes, "
                f"need head='categorical'. Received: num_levels={num_levels}, "
                f"head={head!r}"
            )
        image_shape = check_image_arguments(
            image_shape,
            num_levels,
            max_levels=categorical.MAX_LEVELS if categorical_head else MAX_MIXTURE_LEVELS,
        )
        condition_spec = ConditionSpec(num_classes, conditional_shape)
        spatial = condition_map_factors(image_shape, condition_spec.shape) is not None
        height, width, channels = image_shape
        # The categorical head's masked convolutions group the features by
        # colour channel: at least one feature per channel.
        check_positive_int("num_filters", num_filters, minimum=channels if categorical_head else 1)
        for name, value in (
            ("num_blocks", num_blocks),
            ("num_heads", num_heads),
            ("key_dim", key_dim),
            ("value_dim", value_dim),
            ("num_logistic_mix", num_logistic_mix),
            ("embedding_dim", embedding_dim),
        ):
            check_positive_int(name, value)
        check_positive_int("num_resnet", num_resnet, minimum=0)
        if output_filters is not None:
            check_positive_int("output_filters", output_filters, minimum=channels)
        for name, value in (("dropout", dropout), ("attention_dropout", attention_dropout)):
            if not 0.0 <= value < 1.0:
                raise ValueError(f"Expected `{name}` in [0, 1). Received: {name}={value}")
        if input_encoding not in ENCODINGS:
            raise ValueError(
                f"Expected `input_encoding` to be one of {ENCODINGS}. "
                f"Received: input_encoding={input_encoding!r}"
            )
        weight_norm = bool(weight_norm)

        policy = model_dtype_policy(kwargs.pop("dtype", None))
        inputs, images, condition = image_inputs(image_shape, condition_spec)
        condition_map = None
        if spatial:
            condition_map, condition = inputs[CONDITION], None

        # The pixels as the network sees them (in [-1, 1] by default); the
        # stem also reads a channel of ones, which tells the zero padding of
        # its convolutions from black pixels.
        encoded = categorical.pixel_encoding(
            num_levels, input_encoding, embedding_dim, dtype=policy
        )(images)
        padded = ops.concatenate([encoded, ops.ones_like(encoded[..., :1])], axis=-1)
        background = ops.zeros_like(encoded[..., :1]) + background_planes(height, width)

        def block(name, kernel_size=None):
            return GatedResNet(
                shift="down_right",
                kernel_size=kernel_size,
                dropout=dropout,
                weight_norm=weight_norm,
                dtype=policy,
                name=name,
            )

        conditions = {"condition": condition, "condition_map": condition_map}
        # The first layer sees the row above (three columns: the up-left,
        # up and up-right pixels) and the pixel to the left, not the pixel
        # itself.
        stem_above = DownShiftedConv2D(
            num_filters, (1, 3), weight_norm=weight_norm, dtype=policy, name=STEM_ABOVE
        )
        stem_left = DownRightShiftedConv2D(
            num_filters, (2, 1), weight_norm=weight_norm, dtype=policy, name=STEM_LEFT
        )
        features = down_shift(stem_above(padded)) + right_shift(stem_left(padded))
        for b in range(num_blocks):
            for i in range(num_resnet):
                features = block(resnet_layer(b, i))(features, **conditions)
            content = block(content_layer(b), (1, 1))(
                ops.concatenate([encoded, features, background], axis=-1), **conditions
            )
            query = block(query_layer(b), (1, 1))(
                ops.concatenate([features, background], axis=-1), **conditions
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
            features = block(merge_layer(b), (1, 1))(features, skip=mixed, **conditions)

        if categorical_head:
            if channels > 1:
                # Mask A: channel group g of the features reads the pixel's
                # channels before g, which the stream never sees.
                features = features + MaskedConv2D(
                    num_filters,
                    1,
                    mask_type="A",
                    num_channel_groups=channels,
                    weight_norm=weight_norm,
                    dtype=policy,
                    name=HEAD_PIXEL,
                )(encoded)
            outputs = categorical.output_stack(
                features,
                num_filters if output_filters is None else output_filters,
                image_shape,
                num_levels,
                dtype=policy,
                weight_norm=weight_norm,
            )
        else:
            dense_class = WeightNormDense if weight_norm else keras.layers.Dense
            # The mixture's parameters in the variable dtype (float32 under
            # a mixed policy), as PixelCNN++'s.
            outputs = dense_class(
                num_params(num_logistic_mix, channels),
                dtype=head_dtype_policy(policy),
                name=OUTPUT,
            )(ops.elu(features))
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
        self.head = head
        self.input_encoding = input_encoding
        self.embedding_dim = embedding_dim
        self.output_filters = output_filters
        self.weight_norm = weight_norm

    @property
    def samples_subpixels(self):
        """Whether a pixel's channels are drawn one at a time (the
        categorical head: R, then G given R, ...) rather than jointly (the
        mixture)."""
        return self.head == "categorical"

    # --- Distribution ---------------------------------------------------------

    def output_distribution(self, outputs, temperature=1.0):
        """The per-pixel distribution given the network's outputs.

        Args:
            outputs: `(..., num_params)` tensor, the model's output or any
                slice of it that keeps the last axis.
            temperature: positive float, or a tensor that broadcasts to
                `outputs.shape[:-1]`.

        Returns:
            With the mixture head, a `DiscretizedLogisticMixture`, as
            `PixelCNNPlusPlus.output_distribution` makes it; with the
            categorical head, `tfd.Independent` over `tfd.Categorical` (or
            `tfd.Bernoulli` for 2 levels), as the PixelRNN paper's models'.
            Batch shape `outputs.shape[:-1]`, event shape `(channels,)`.
        """
        if self.head == "categorical":
            return pixel_categorical.pixel_categorical(
                outputs, self.image_shape[-1], self.num_levels, temperature
            )
        return mixture_from_outputs(
            outputs,
            self.num_logistic_mix,
            self.image_shape[-1],
            self.num_levels,
            self.min_log_scale,
            temperature,
        )

    def channel_logits(self, outputs):
        """`(..., channels, num_levels)` logits of every channel (the
        categorical head), as the sub-pixel sampling loops read them.

        Raises:
            ValueError: for the mixture head, which has no logits per value.
        """
        if self.head != "categorical":
            raise ValueError(
                "`channel_logits` needs head='categorical'. Received: a PixelSNAIL "
                f"with head={self.head!r}"
            )
        return pixel_categorical.channel_logits(
            outputs, self.image_shape[-1], self.num_levels
        )

    # --- Sampling -------------------------------------------------------------

    cached_loop_compiles = True
