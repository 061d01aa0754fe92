"""The gated residual block of PixelCNN++."""

import keras
from keras import ops

from pixel_keras.layers.activations import elu
from pixel_keras.layers.activations import sigmoid
from pixel_keras.layers.gated_pixel_cnn_block import upsample_nearest
from pixel_keras.layers.shifted_conv import DownRightShiftedConv2D
from pixel_keras.layers.shifted_conv import DownShiftedConv2D
from pixel_keras.layers.weight_norm import WeightNormDense

_CONVOLUTIONS = {"down": DownShiftedConv2D, "down_right": DownRightShiftedConv2D}


def concat_elu(x):
    """ELU of `x` and of `-x`, concatenated on the channel axis.

    Keeps the information of both signs (an ELU alone saturates for negative
    inputs), doubling the channels. A 16-bit `x` on a CPU takes its ELU in
    float32 (`layers.activations.elu`).
    """
    return elu(ops.concatenate([x, -x], axis=-1))


@keras.saving.register_keras_serializable(package="pixel_keras")
class GatedResNet(keras.layers.Layer):
    """Gated residual block with causal convolutions (PixelCNN++).

    Computes

    ```
    c = conv(concat_elu(x)) [+ 1x1(concat_elu(skip))]
    c = dropout(concat_elu(c))
    a, b = split(conv(c) [+ dense(condition)] [+ upsample(1x1(condition_map))])
    out = x + a * sigmoid(b)
    ```

    where both convolutions are down-shifted or down-right-shifted, so the
    block keeps the causal footprint of its stream. The number of filters is
    the number of input channels.

    Args:
        shift: `"down"` for the vertical stream (`DownShiftedConv2D`, kernel
            `(2, 3)` by default) or `"down_right"` for the horizontal stream
            (`DownRightShiftedConv2D`, kernel `(2, 2)`).
        kernel_size: pair of ints, or None for the stream's default.
        dropout: float in `[0, 1)`, dropout rate after the first convolution.
        kernel_initializer: initializer of the convolutions and projections.
        weight_norm: bool, whether the two convolutions and the skip
            projection are weight-normalized (as in PixelCNN++; the class
            projection stays a plain `Dense`, as in the reference code).
        **kwargs: base `keras.layers.Layer` arguments (name, dtype, ...).

    Call arguments:
        inputs: `(batch, height, width, filters)` tensor.
        skip: optional `(batch, height, width, any)` tensor from another
            stream or from the down pass (U-Net shortcut), projected by a 1x1
            convolution and added after the first convolution. It must respect
            the causal footprint of this stream itself.
        condition: optional `(batch, features)` tensor (e.g. a one-hot class
            label), projected and added to the gates at every pixel.
        condition_map: optional `(batch, h, w, c)` map whose `h` and `w`
            divide the input's height and width (e.g. the VQ-VAE-2 top
            codes that a bottom prior is conditioned on): a 1 x 1
            projection of it, upsampled by repeating each value (nearest),
            is added to the gates. Neither condition depends on a pixel.
        training: Python bool, whether dropout is active.

    Input shape:
        `(batch, height, width, filters)`.

    Output shape:
        Same as the input.

    Example:

    >>> block = GatedResNet(shift="down_right", dropout=0.5)
    >>> x = keras.ops.ones((2, 8, 8, 16))
    >>> block(x, skip=keras.ops.ones((2, 8, 8, 16))).shape
    (2, 8, 8, 16)
    """

    def __init__(
        self,
        shift="down",
        kernel_size=None,
        dropout=0.0,
        kernel_initializer="glorot_uniform",
        weight_norm=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if shift not in _CONVOLUTIONS:
            raise ValueError(
                f"Expected `shift` to be one of {sorted(_CONVOLUTIONS)}. "
                f"Received: shift={shift!r}"
            )
        if not 0.0 <= dropout < 1.0:
            raise ValueError(
                f"Expected `dropout` in [0, 1). Received: dropout={dropout}"
            )
        self.shift = shift
        self.kernel_size = None if kernel_size is None else tuple(kernel_size)
        self.dropout = dropout
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.weight_norm = bool(weight_norm)
        self._dropout_layer = keras.layers.Dropout(dropout)

    def _convolution(self, filters, name, kernel_initializer):
        conv_class = _CONVOLUTIONS[self.shift]
        kwargs = {} if self.kernel_size is None else {"kernel_size": self.kernel_size}
        return conv_class(
            filters,
            kernel_initializer=kernel_initializer,
            weight_norm=self.weight_norm,
            dtype=self.dtype_policy,
            name=name,
            **kwargs,
        )

    def build(
        self, inputs_shape, skip_shape=None, condition_shape=None, condition_map_shape=None
    ):
        filters = inputs_shape[-1]
        if filters is None:
            raise ValueError(
                "`GatedResNet` needs a known channel count. "
                f"Received: inputs shape={inputs_shape}"
            )
        self.filters = filters
        inputs_shape = tuple(inputs_shape)
        # Each sub-layer gets its own initializer instance, from the config.
        initializer = keras.initializers.serialize(self.kernel_initializer)
        self.first_conv = self._convolution(filters, "first_conv", initializer)
        self.first_conv.build(inputs_shape[:-1] + (2 * filters,))
        # The residual branch starts small (as the reference model's
        # init_scale=0.1) so a deep stack starts close to the identity.
        self.gate_conv = self._convolution(
            2 * filters,
            "gate_conv",
            keras.initializers.VarianceScaling(0.1, "fan_avg", "uniform"),
        )
        self.gate_conv.build(inputs_shape[:-1] + (2 * filters,))
        self.skip_projection = None
        if skip_shape is not None:
            dense_class = WeightNormDense if self.weight_norm else keras.layers.Dense
            self.skip_projection = dense_class(
                filters,
                kernel_initializer=initializer,
                dtype=self.dtype_policy,
                name="skip_projection",
            )
            skip_shape = tuple(skip_shape)
            self.skip_projection.build(skip_shape[:-1] + (2 * skip_shape[-1],))
        self.condition_projection = None
        if condition_shape is not None:
            if len(condition_shape) != 2:
                raise ValueError(
                    "Expected `condition` of shape (batch, features). "
                    f"Received: condition shape={condition_shape}"
                )
            self.condition_projection = keras.layers.Dense(
                2 * filters,
                use_bias=False,
                kernel_initializer=initializer,
                dtype=self.dtype_policy,
                name="condition_projection",
            )
            self.condition_projection.build(condition_shape)
        self.condition_map_projection = None
        if condition_map_shape is not None:
            if len(condition_map_shape) != 4:
                raise ValueError(
                    "Expected `condition_map` of shape (batch, h, w, channels). "
                    f"Received: condition_map shape={condition_map_shape}"
                )
            # A 1 x 1 convolution, as a Dense on the last axis; no bias (the
            # gate convolution has one), as the class projection.
            self.condition_map_projection = keras.layers.Dense(
                2 * filters,
                use_bias=False,
                kernel_initializer=initializer,
                dtype=self.dtype_policy,
                name="condition_map_projection",
            )
            self.condition_map_projection.build(condition_map_shape)

    def call(self, inputs, skip=None, condition=None, condition_map=None, training=None):
        if (skip is None) != (self.skip_projection is None):
            raise ValueError(
                "`GatedResNet` was built "
                f"{'with' if self.skip_projection is not None else 'without'} "
                "a `skip` input and must be called the same way."
            )
        if (condition is None) != (self.condition_projection is None):
            raise ValueError(
                "`GatedResNet` was built "
                f"{'with' if self.condition_projection is not None else 'without'} "
                "a `condition` input and must be called the same way."
            )
        if (condition_map is None) != (self.condition_map_projection is None):
            raise ValueError(
                "`GatedResNet` was built "
                f"{'with' if self.condition_map_projection is not None else 'without'} "
                "a `condition_map` input and must be called the same way."
            )
        hidden = self.first_conv(concat_elu(inputs))
        if skip is not None:
            hidden = hidden + self.skip_projection(concat_elu(skip))
        hidden = self._dropout_layer(concat_elu(hidden), training=training)
        gates = self.gate_conv(hidden)
        if condition is not None:
            projected = self.condition_projection(condition)
            gates = gates + projected[:, None, None, :]
        if condition_map is not None:
            # The projection at the map's resolution, then the upsampling:
            # the same values (a 1 x 1 projection commutes with repeating
            # pixels), with fewer multiplications.
            gates = gates + upsample_nearest(
                self.condition_map_projection(condition_map), gates.shape[1], gates.shape[2]
            )
        values, gate_logits = ops.split(gates, 2, axis=-1)
        return inputs + values * sigmoid(gate_logits)

    def compute_output_shape(
        self, inputs_shape, skip_shape=None, condition_shape=None, condition_map_shape=None
    ):
        return inputs_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "shift": self.shift,
                "kernel_size": self.kernel_size,
                "dropout": self.dropout,
                "kernel_initializer": keras.initializers.serialize(
                    self.kernel_initializer
                ),
                "weight_norm": self.weight_norm,
            }
        )
        return config
