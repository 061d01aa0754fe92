"""The Gated PixelCNN (van den Oord et al., 2016, "Conditional Image
Generation with PixelCNN Decoders")."""

import keras

from pixel_keras.conditioning import CONDITION
from pixel_keras.layers import GatedPixelCNNBlock
from pixel_keras.models import categorical
from pixel_keras.models.autoregressive import check_positive_int
from pixel_keras.models.autoregressive import condition_map_factors
from pixel_keras.models.gated_pixel_cnn import cached_sampler
from pixel_keras.models.gated_pixel_cnn.layer_names import SKIP_SUM
from pixel_keras.models.gated_pixel_cnn.layer_names import block_name
from pixel_keras.models.gated_pixel_cnn.presets import GATED_PIXEL_CNN_PRESETS


@keras.saving.register_keras_serializable(package="pixel_keras")
class GatedPixelCNN(categorical.CategoricalPixelModel):
    """Gated PixelCNN: two stacks without a blind spot, gated layers, and a
    softmax per sub-pixel.

    The (encoded) image feeds `num_layers` `GatedPixelCNNBlock`s. The
    vertical stack sees every row above a pixel (`VerticalStackConv2D`,
    `ceil(n / 2) x n`), the horizontal stack the pixels to its left in its
    row (`HorizontalStackConv2D`, `1 x ceil(n / 2)`); each layer feeds the
    vertical pre-activations into the horizontal ones through a 1 x 1
    convolution, and gates both with `tanh(a) * sigmoid(b)`. The first layer
    is mask A (the vertical stack strictly above the pixel, the horizontal
    one reading only the earlier channels of the pixel itself); the others
    are mask B with a residual connection in the horizontal stack. Together
    the stacks see every earlier pixel: no blind spot, unlike `PixelCNN`.
    The horizontal stack's last output and every layer's skip output are
    summed, then ReLU, a 1 x 1 convolution to `output_filters`, ReLU and a
    1 x 1 convolution to the logits: a
    `num_levels`-way softmax per channel (a sigmoid for binarized images),
    channels in R -> G -> B order.

    The condition (one input, `condition`) is class labels (`num_classes`:
    a one-hot vector), values of shape `(d,)` (a vector), values of shape
    `(h, w, c)` whose `h` and `w` divide the image's height and width (a
    spatial map, upsampled to the image by repeating each value: the
    VQ-VAE-2 bottom prior's conditioning on the top code map), or values of
    any other shape (flattened to a vector). A vector adds a learned linear
    function of it to both stacks' pre-activations in every layer; a map
    adds a 1 x 1 convolution of it.

    Args:
        image_shape: `(height, width, channels)`.
        num_levels: int in `[2, 65536]`, values per channel (2: Bernoulli);
            above 256, images are int32 rather than uint8.
        num_filters: int p, the gated feature maps of each stack (at least
            the number of channels).
        num_layers: int, gated layers.
        kernel_size: odd int n >= 3, the stacks' n x n footprint per layer.
        output_filters: int, channels of the hidden output layer.
        num_classes: int or None, for a class-conditional model.
        conditional_shape: tuple or None, the shape of one image's
            condition values (see above). At most one of `num_classes` and
            `conditional_shape`.
        input_encoding: how the first layer sees pixel values: `"scaled"`
            (to [-1, 1], for intensities), `"one_hot"` or `"embedding"`
            (for unordered values such as discrete latent codes); see
            `PixelEncoding`.
        embedding_dim: int, features per channel for `"embedding"`.
        weight_norm: bool, whether every convolution but the condition's
            projections is weight-normalized (Salimans & Kingma, 2016), the
            masked ones over the taps their masks keep; initialize it on a batch
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
    model = GatedPixelCNN.from_preset("tiny", num_classes=10)
    model.compile()
    model.fit({"images": images, "condition": labels}, epochs=1)
    model.sample(4, seed=0, condition=[0, 1, 2, 3])
    ```

    Reference:
        van den Oord, Kalchbrenner, Espeholt, Vinyals, Graves,
        Kavukcuoglu. Conditional Image Generation with PixelCNN Decoders.
        NeurIPS 2016. https://arxiv.org/abs/1606.05328
    """

    presets = GATED_PIXEL_CNN_PRESETS
    recipe_family = "gated_pixel_cnn"
    cached_loop_builder = staticmethod(cached_sampler.build_loop)
    config_keys = (
        "image_shape",
        "num_levels",
        "num_filters",
        "num_layers",
        "kernel_size",
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
        num_filters=384,
        num_layers=20,
        kernel_size=5,
        output_filters=1024,
        num_classes=None,
        conditional_shape=None,
        input_encoding="scaled",
        embedding_dim=16,
        weight_norm=False,
        **kwargs,
    ):
        check_positive_int("kernel_size", kernel_size, minimum=3)
        if kernel_size % 2 != 1:
            raise ValueError(
                f"Expected an odd `kernel_size` (the n of the stacks' n x n footprint). "
                f"Received: kernel_size={kernel_size}"
            )
        stem = categorical.network_inputs(
            image_shape, num_levels, num_filters, num_layers, output_filters,
            num_classes, conditional_shape, input_encoding, embedding_dim,
            dtype=kwargs.pop("dtype", None),
        )
        image_shape, condition_spec, policy = stem.image_shape, stem.condition_spec, stem.policy
        channels = image_shape[-1]
        vector, condition_map = stem.condition, None
        if condition_map_factors(image_shape, condition_spec.shape) is not None:
            condition_map, vector = stem.inputs[CONDITION], None
        encoded = stem.encoded
        stacks, skips = encoded, []
        for i in range(num_layers):
            block = GatedPixelCNNBlock(
                num_filters,
                kernel_size,
                mask_type="A" if i == 0 else "B",
                num_channel_groups=channels,
                residual=i > 0,
                weight_norm=weight_norm,
                dtype=policy,
                name=block_name(i),
            )
            vertical, horizontal, skip = block(
                stacks, condition=vector, condition_map=condition_map
            )
            stacks = (vertical, horizontal)
            skips.append(skip)
        # The horizontal stack's last output (the paper's head input) and
        # every layer's skip output (the last layer's included: without
        # it, the last horizontal 1 x 1 would be the only path from it).
        features = keras.layers.Add(dtype=policy, name=SKIP_SUM)([horizontal, *skips])
        outputs = categorical.output_stack(
            features, output_filters, image_shape, num_levels, dtype=policy,
            weight_norm=weight_norm,
        )
        super().__init__(inputs=stem.inputs, outputs=outputs, dtype=policy, **kwargs)

        self.image_shape = image_shape
        self.num_levels = num_levels
        self.num_filters = num_filters
        self.num_layers = num_layers
        self.kernel_size = kernel_size
        self.output_filters = output_filters
        self.num_classes = num_classes
        self.conditional_shape = condition_spec.shape
        self.condition_spec = condition_spec
        self.input_encoding = input_encoding
        self.embedding_dim = embedding_dim
        self.weight_norm = bool(weight_norm)
