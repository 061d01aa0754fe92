"""`ImageLSTM`, the base layer of the image LSTMs: their shared arguments,
the masked input-to-state convolution, and the config."""

import keras

from pixel_keras.layers.masked_conv import MaskedConv2D


class ImageLSTM(keras.layers.Layer):
    """Base of `RowLSTM`, `DiagonalLSTM` and `DiagonalBiLSTM`.

    Holds the arguments they share, checks them, makes the masked
    input-to-state convolution of the four gates, and round-trips the
    config. The output has `units` channels at every pixel.
    """

    def __init__(
        self,
        units,
        num_channel_groups=1,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if isinstance(units, bool) or not isinstance(units, int) or units < 1:
            raise ValueError(f"Expected a positive int `units`. Received: units={units!r}")
        self.units = units
        self.num_channel_groups = num_channel_groups
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.recurrent_initializer = keras.initializers.get(recurrent_initializer)

    def _input_to_state(self, kernel_size):
        """A mask-B convolution to the 4 gates, each grouped by channel."""
        return MaskedConv2D(
            4 * self.units,
            kernel_size,
            mask_type="B",
            num_channel_groups=self.num_channel_groups,
            output_blocks=4,
            use_bias=False,
            kernel_initializer=self.kernel_initializer,
            dtype=self.dtype_policy,
            name="input_to_state",
        )

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "num_channel_groups": self.num_channel_groups,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "recurrent_initializer": keras.initializers.serialize(
                    self.recurrent_initializer
                ),
            }
        )
        return config
