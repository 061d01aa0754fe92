"""What the PixelRNN paper's models share: input, heads, likelihood.

PixelCNN (`models/pixel_cnn/`) and the PixelRNNs (`models/pixel_rnn/`)
encode the image with the same layer, condition every layer the same way,
end with the same output stack and draw a pixel's channels one at a time
from a softmax (or sigmoid) each. The layers they share are named here once;
their cached samplers find them by these names.
"""

import collections

import keras
from keras import ops

from pixel_keras.conditioning import ConditionSpec
from pixel_keras.distributions import pixel_categorical
from pixel_keras.layers import MaskedConv2D
from pixel_keras.layers import PixelEncoding
from pixel_keras.models.autoregressive import AutoregressiveImageModel
from pixel_keras.models.autoregressive import check_image_arguments
from pixel_keras.models.autoregressive import check_positive_int
from pixel_keras.models.autoregressive import head_dtype_policy
from pixel_keras.models.autoregressive import image_inputs
from pixel_keras.models.autoregressive import model_dtype_policy
from pixel_keras.sampling import subpixel

# Names of the layers every model of the family has.
ENCODING = "pixel_encoding"
INPUT_CONV = "input_conv"
OUTPUT_HIDDEN = "output_1"
LOGITS = "logits"

# A softmax per sub-pixel over at most this many values (for example the
# codes of a discrete latent map); images above 256 levels are int32.
MAX_LEVELS = 2**16


def check_stack_arguments(channels, num_filters, num_layers, output_filters):
    """Checks the widths and depth every PixelRNN-paper model takes: each
    feature map needs at least one channel per colour group."""
    check_positive_int("num_filters", num_filters, minimum=channels)
    check_positive_int("num_layers", num_layers)
    check_positive_int("output_filters", output_filters, minimum=channels)


NetworkInputs = collections.namedtuple(
    "NetworkInputs",
    ["image_shape", "condition_spec", "policy", "inputs", "images", "condition", "encoded"],
)
NetworkInputs.__doc__ = """What `network_inputs` returns: the checked image shape (a tuple),
the `ConditionSpec`, the model's `keras.DTypePolicy`, the functional
`inputs`, the `images` and condition `condition` (the one-hot label or the
flattened values, None without one) tensors, and the `encoded` images."""


def network_inputs(
    image_shape,
    num_levels,
    num_filters,
    num_layers,
    output_filters,
    num_classes,
    conditional_shape,
    input_encoding,
    embedding_dim,
    dtype,
):
    """The checked arguments and the first layers of a softmax model.

    Every model of the family checks the same arguments (the image and its
    levels, the condition, the widths and depth), in the same order, before
    it builds anything, and starts from the same inputs and encoding layer.

    Args:
        image_shape, num_levels, num_filters, num_layers, output_filters,
        num_classes, conditional_shape, input_encoding, embedding_dim: the
            model's constructor arguments of those names.
        dtype: the model's `dtype` argument (None for the global policy).

    Returns:
        A `NetworkInputs`.

    Raises:
        ValueError: naming the first argument out of range.
    """
    image_shape = check_image_arguments(image_shape, num_levels, max_levels=MAX_LEVELS)
    condition_spec = ConditionSpec(num_classes, conditional_shape)
    check_stack_arguments(image_shape[-1], num_filters, num_layers, output_filters)
    policy = model_dtype_policy(dtype)
    inputs, images, condition = image_inputs(image_shape, condition_spec)
    encoded = pixel_encoding(num_levels, input_encoding, embedding_dim, dtype=policy)(images)
    return NetworkInputs(image_shape, condition_spec, policy, inputs, images, condition, encoded)


def pixel_encoding(num_levels, encoding, embedding_dim, dtype=None):
    """The model's first layer: how it sees pixel values."""
    return PixelEncoding(num_levels, encoding, embedding_dim, dtype=dtype, name=ENCODING)


def add_condition_bias(features, condition_vector, name, dtype=None):
    """Adds a learned linear function of the condition vector (the one-hot
    label, or the flattened values) to every pixel; nothing without one.

    A bias that is the same at every pixel depends on no pixel, so it keeps
    every mask intact.
    """
    if condition_vector is None:
        return features
    bias = keras.layers.Dense(features.shape[-1], use_bias=False, dtype=dtype, name=name)(
        condition_vector
    )
    return features + bias[:, None, None, :]


def output_stack(features, output_filters, image_shape, num_levels, dtype, weight_norm=False):
    """ReLU, 1x1 mask-B convolution, ReLU, 1x1 mask-B convolution to logits.

    `dtype` is the model's policy; the logits are computed in its variable
    dtype (float32 under a mixed policy), as the softmax that reads them.
    With `weight_norm` both convolutions are weight-normalized.
    """
    channels = image_shape[-1]
    x = MaskedConv2D(
        output_filters,
        1,
        num_channel_groups=channels,
        weight_norm=weight_norm,
        dtype=dtype,
        name=OUTPUT_HIDDEN,
    )(ops.relu(features))
    return MaskedConv2D(
        pixel_categorical.num_logits(channels, num_levels),
        1,
        num_channel_groups=channels,
        weight_norm=weight_norm,
        dtype=head_dtype_policy(dtype),
        name=LOGITS,
    )(ops.relu(x))


class CategoricalPixelModel(AutoregressiveImageModel):
    """Base of the models with a softmax (or sigmoid) per sub-pixel.

    Channels of a pixel are drawn one at a time, R then G then B, each from
    its own softmax given the earlier channels.
    """

    samples_subpixels = True
    # The sub-pixel loop (`sampling/subpixel.py`) compiles with XLA:
    # measured 5-10x faster on 2 CPU cores, the same images.
    cached_loop_compiles = True

    def output_distribution(self, outputs, temperature=1.0):
        """The per-pixel distribution given the network's logits.

        Args:
            outputs: `(..., num_logits)` logits, the model's output or any
                slice of it that keeps the last axis.
            temperature: positive float; logits are divided by it.

        Returns:
            `tfd.Independent` over `tfd.Categorical` (or `tfd.Bernoulli` for
            2 levels) with batch shape `outputs.shape[:-1]` and event shape
            `(channels,)`.
        """
        return pixel_categorical.pixel_categorical(
            outputs, self.image_shape[-1], self.num_levels, temperature
        )

    def channel_logits(self, outputs):
        """`(..., channels, num_levels)` logits of every channel."""
        return pixel_categorical.channel_logits(
            outputs, self.image_shape[-1], self.num_levels
        )

    # --- The pieces of the cached sampler that the family shares ----------------

    def cached_input_convolution(self, condition_bias=None):
        """The input convolution at one pixel (`subpixel.InputConvolution`),
        with the first layer's condition bias."""
        return subpixel.InputConvolution(
            self.get_layer(INPUT_CONV), self.get_layer(ENCODING), condition_bias
        )

    def cached_output_stack(self):
        """The output stack at one pixel, one channel at a time."""
        return subpixel.OutputStack(
            self.get_layer(OUTPUT_HIDDEN),
            self.get_layer(LOGITS),
            self.image_shape[-1],
            self.num_levels,
        )
