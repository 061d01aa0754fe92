"""PixelCNN++ (Salimans et al., 2017) as a Keras 3 model."""

import math

import keras
import tensorflow as tf
import tensorflow_probability as tfp
from keras import ops

from pixel_keras import sampling
from pixel_keras.distributions import DiscretizedLogisticMixture
from pixel_keras.layers import DownRightShiftedConv2D
from pixel_keras.layers import DownRightShiftedConv2DTranspose
from pixel_keras.layers import DownShiftedConv2D
from pixel_keras.layers import DownShiftedConv2DTranspose
from pixel_keras.layers import GatedResNet
from pixel_keras.layers import down_shift
from pixel_keras.layers import right_shift
from pixel_keras.models import presets as presets_lib

tfd = tfp.distributions


def _check_positive_int(name, value, minimum=1):
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(
            f"Expected `{name}` to be an int >= {minimum}. Received: {name}={value!r}"
        )


class _BitsPerDim(keras.losses.Loss):
    """Per-example negative log-likelihood in bits per dimension.

    A `keras.losses.Loss` so that Keras applies the batch reduction and the
    per-replica scaling that `tf.distribute` strategies need.
    """

    def __init__(self, model):
        super().__init__(name="bits_per_dim", reduction="sum_over_batch_size")
        self._distribution_fn = model.output_distribution
        self._num_dims = math.prod(model.image_shape)

    def call(self, y_true, y_pred):
        distribution = tfd.Independent(
            self._distribution_fn(y_pred), reinterpreted_batch_ndims=2
        )
        return -distribution.log_prob(y_true) / (self._num_dims * math.log(2.0))


@keras.saving.register_keras_serializable(package="pixel_keras")
class PixelCNNPlusPlus(keras.Model):
    """PixelCNN++: a causal convolutional model of images.

    The network reads an image in raster order through two causal streams (a
    down-shifted one that sees the rows above and a down-right-shifted one
    that sees the pixels above and to the left), `num_resnet` gated residual
    blocks per resolution, `num_hierarchies` resolutions down and back up
    with U-Net shortcuts between matching blocks, and outputs, for every
    pixel, the parameters of a `DiscretizedLogisticMixture` over that pixel's
    channels given all earlier pixels.

    The model's output is the raw parameter map; `output_distribution` turns
    it into the distribution, and `distribution` does both. Train it with
    `compile(optimizer)` and `fit(...)` on batches of images (or, for a
    class-conditional model, dicts `{"images", "labels"}`): the loss is the
    negative log-likelihood in bits per dimension.

    Args:
        image_shape: `(height, width, channels)`; height and width must be
            divisible by `2 ** (num_hierarchies - 1)`.
        num_levels: int in `[2, 256]`, the number of values per channel;
            pixels are integers in `[0, num_levels - 1]`.
        num_filters: int, channels of every feature map.
        num_resnet: int, gated residual blocks per resolution and pass.
        num_hierarchies: int, number of resolutions (1 = no down-sampling).
        num_logistic_mix: int, mixture components per pixel.
        dropout: float in `[0, 1)`, dropout rate in every block.
        num_classes: int or None; when set, the model takes a `labels` input
            (int `[batch]`) whose one-hot vector conditions every block.
        min_log_scale: float, lower bound of the logistics' log-scales.
        **kwargs: base `keras.Model` arguments (name, dtype, ...).

    Call arguments:
        inputs: float `(batch, height, width, channels)` images with integer
            values in `[0, num_levels - 1]`, or for a class-conditional model
            a dict `{"images": ..., "labels": int (batch,)}`.
        training: Python bool, whether dropout is active.

    Returns:
        `(batch, height, width, num_params)` distribution parameters.

    Example:

    ```python
    model = PixelCNNPlusPlus.from_preset("tiny", image_shape=(8, 8, 1),
                                         num_levels=17)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    model.fit(images, epochs=1, batch_size=32)  # loss in bits/dim
    samples = model.sample(4, seed=0)  # uint8 (4, 8, 8, 1)
    ```

    References:
        Salimans, Karpathy, Chen, Kingma. PixelCNN++: Improving the PixelCNN
        with Discretized Logistic Mixture Likelihood and Other Modifications.
        ICLR 2017. https://arxiv.org/abs/1701.05517
    """

    def __init__(
        self,
        image_shape=(32, 32, 3),
        num_levels=256,
        num_filters=160,
        num_resnet=5,
        num_hierarchies=3,
        num_logistic_mix=10,
        dropout=0.5,
        num_classes=None,
        min_log_scale=-7.0,
        **kwargs,
    ):
        image_shape = tuple(image_shape)
        if len(image_shape) != 3 or not all(
            isinstance(d, int) and d > 0 for d in image_shape
        ):
            raise ValueError(
                "Expected `image_shape` to be (height, width, channels) of "
                f"positive ints. Received: image_shape={image_shape}"
            )
        _check_positive_int("num_levels", num_levels, minimum=2)
        if num_levels > 256:
            raise ValueError(
                f"Expected `num_levels` in [2, 256]. Received: num_levels={num_levels}"
            )
        _check_positive_int("num_filters", num_filters)
        _check_positive_int("num_resnet", num_resnet)
        _check_positive_int("num_hierarchies", num_hierarchies)
        _check_positive_int("num_logistic_mix", num_logistic_mix)
        if num_classes is not None:
            _check_positive_int("num_classes", num_classes, minimum=2)
        factor = 2 ** (num_hierarchies - 1)
        if image_shape[0] % factor or image_shape[1] % factor:
            raise ValueError(
                f"With num_hierarchies={num_hierarchies}, height and width must "
                f"be divisible by {factor}. Received: image_shape={image_shape}"
            )
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"Expected `dropout` in [0, 1). Received: dropout={dropout}")

        height, width, channels = image_shape
        images = keras.Input(shape=image_shape, name="images")
        condition = None
        if num_classes is None:
            inputs = images
        else:
            labels = keras.Input(shape=(), dtype="int32", name="labels")
            inputs = {"images": images, "labels": labels}
            condition = ops.one_hot(labels, num_classes)

        # Rescale to [-1, 1] and append a channel of ones, so the network can
        # tell the zero padding of the causal convolutions from black pixels.
        x = images * (2.0 / (num_levels - 1)) - 1.0
        x = ops.concatenate([x, ops.ones_like(x[..., :1])], axis=-1)

        def block(shift, name):
            return GatedResNet(shift=shift, dropout=dropout, name=name)

        # First layer: the vertical stream sees the rows strictly above; the
        # horizontal stream adds the pixels strictly left in the same row.
        u = down_shift(DownShiftedConv2D(num_filters, (2, 3), name="stem_down")(x))
        ul = down_shift(
            DownShiftedConv2D(num_filters, (1, 3), name="stem_down_right_above")(x)
        ) + right_shift(
            DownRightShiftedConv2D(num_filters, (2, 1), name="stem_down_right_left")(x)
        )
        u_list, ul_list = [u], [ul]
        for level in range(num_hierarchies):
            if level > 0:
                u_list.append(
                    DownShiftedConv2D(
                        num_filters, (2, 3), strides=2, name=f"down_{level}_u_stride"
                    )(u_list[-1])
                )
                ul_list.append(
                    DownRightShiftedConv2D(
                        num_filters, (2, 2), strides=2, name=f"down_{level}_ul_stride"
                    )(ul_list[-1])
                )
            for i in range(num_resnet):
                u_list.append(
                    block("down", f"down_{level}_u_{i}")(
                        u_list[-1], condition=condition
                    )
                )
                ul_list.append(
                    block("down_right", f"down_{level}_ul_{i}")(
                        ul_list[-1], skip=u_list[-1], condition=condition
                    )
                )

        # Up pass: every block consumes the matching down-pass activation
        # (U-Net shortcut), last in first out. The top level starts from the
        # last activation, so it has one block fewer than the levels below,
        # which also consume their strided convolution's (or the stem's) output.
        u, ul = u_list.pop(), ul_list.pop()
        for level in reversed(range(num_hierarchies)):
            if level < num_hierarchies - 1:
                u = DownShiftedConv2DTranspose(
                    num_filters, (2, 3), name=f"up_{level}_u_stride"
                )(u)
                ul = DownRightShiftedConv2DTranspose(
                    num_filters, (2, 2), name=f"up_{level}_ul_stride"
                )(ul)
            num_blocks = num_resnet + (0 if level == num_hierarchies - 1 else 1)
            for i in range(num_blocks):
                u = block("down", f"up_{level}_u_{i}")(
                    u, skip=u_list.pop(), condition=condition
                )
                ul = block("down_right", f"up_{level}_ul_{i}")(
                    ul,
                    skip=ops.concatenate([u, ul_list.pop()], axis=-1),
                    condition=condition,
                )

        num_params = num_logistic_mix * (
            1 + 2 * channels + channels * (channels - 1) // 2
        )
        outputs = keras.layers.Dense(num_params, name="distribution_params")(
            ops.elu(ul)
        )
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)

        self.image_shape = image_shape
        self.num_levels = num_levels
        self.num_filters = num_filters
        self.num_resnet = num_resnet
        self.num_hierarchies = num_hierarchies
        self.num_logistic_mix = num_logistic_mix
        self.dropout = dropout
        self.num_classes = num_classes
        self.min_log_scale = min_log_scale
        self._nll = _BitsPerDim(self)

    # --- Distribution ---------------------------------------------------------

    def output_distribution(self, outputs, temperature=1.0):
        """The per-pixel distribution given the network's outputs.

        Args:
            outputs: `(..., num_params)` tensor, the model's output (for a
                whole batch `(batch, height, width, num_params)`, or any
                slice of it that keeps the last axis).
            temperature: positive float; values below 1 sharpen the mixture
                weights and shrink the scales, above 1 flatten them.

        Returns:
            A `DiscretizedLogisticMixture` with batch shape `outputs.shape[:-1]`
            and event shape `(channels,)`.
        """
        outputs = ops.convert_to_tensor(outputs)
        k = self.num_logistic_mix
        c = self.image_shape[-1]
        prefix = ops.shape(outputs)[:-1]
        logits = outputs[..., :k]
        locs = ops.reshape(outputs[..., k : k + k * c], (*prefix, k, c))
        log_scales = ops.reshape(
            outputs[..., k + k * c : k + 2 * k * c], (*prefix, k, c)
        )
        log_scales = ops.maximum(log_scales, self.min_log_scale)
        coefficients = None
        if c > 1:
            coefficients = ops.tanh(
                ops.reshape(outputs[..., k + 2 * k * c :], (*prefix, k, c * (c - 1) // 2))
            )
        if not (isinstance(temperature, (int, float)) and temperature == 1.0):
            temperature = ops.cast(temperature, outputs.dtype)
            logits = logits / temperature
            log_scales = log_scales + ops.log(temperature)
        return DiscretizedLogisticMixture(
            logits=logits,
            locs=locs,
            log_scales=log_scales,
            coefficients=coefficients,
            num_levels=self.num_levels,
        )

    def distribution(self, images, labels=None, training=False):
        """The model's distribution over images given the (earlier) pixels.

        Because the network is causal, the `log_prob` of this distribution at
        `images` is the exact log-likelihood of `images` under the model.

        Args:
            images: `(batch, height, width, channels)` integer-valued images.
            labels: int `(batch,)` class labels for a class-conditional model.
            training: Python bool, whether dropout is active.

        Returns:
            `tfd.Independent` over `DiscretizedLogisticMixture`, batch shape
            `(batch,)`, event shape `image_shape`.
        """
        outputs = self(self.make_inputs(images, labels), training=training)
        return tfd.Independent(
            self.output_distribution(outputs), reinterpreted_batch_ndims=2
        )

    def log_prob(self, images, labels=None):
        """Log-likelihood of each image in nats, `(batch,)`."""
        images = tf.cast(self._check_images(images, "images"), "float32")
        return self.distribution(images, labels).log_prob(images)

    def bits_per_dim(self, images, labels=None):
        """Negative log-likelihood of each image in bits per dimension."""
        num_dims = math.prod(self.image_shape)
        return -self.log_prob(images, labels) / (num_dims * math.log(2.0))

    # --- Inputs ---------------------------------------------------------------

    def make_inputs(self, images, labels=None):
        """The model's input structure from images and optional labels."""
        images = ops.cast(images, "float32")
        if self.num_classes is None:
            if labels is not None:
                raise ValueError(
                    "This model is not class-conditional (num_classes=None); "
                    "do not pass `labels`."
                )
            return images
        if labels is None:
            raise ValueError(
                f"This model is class-conditional (num_classes={self.num_classes}); "
                "pass `labels`, int of shape (batch,)."
            )
        return {"images": images, "labels": ops.cast(labels, "int32")}

    def _check_images(self, images, name):
        images = tf.convert_to_tensor(images)
        if images.shape.rank != 4 or tuple(images.shape[1:]) != self.image_shape:
            raise ValueError(
                f"Expected `{name}` of shape (batch, {', '.join(map(str, self.image_shape))}). "
                f"Received: {name}.shape={tuple(images.shape)}"
            )
        return images

    # --- Training -------------------------------------------------------------

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """Negative log-likelihood in bits per dimension (plus layer losses).

        `fit` passes the batch as `x`; the images in it are the targets, so no
        `y` is needed.
        """
        images = x["images"] if isinstance(x, dict) else x
        loss = self._nll(images, y_pred, sample_weight)
        if self.losses:
            # Regularization losses are summed per replica, so scale them like
            # the likelihood term under a tf.distribute strategy.
            replicas = tf.distribute.get_strategy().num_replicas_in_sync
            loss = loss + ops.sum(self.losses) / replicas
        return loss

    # --- Sampling -------------------------------------------------------------

    def sample(self, num, seed, labels=None, temperature=1.0):
        """Draws images from the model, one pixel at a time.

        Args:
            num: int, number of images.
            seed: int, an int32 `[2]` seed, or int32 `[num, 2]` with one seed
                per image (image `i` then depends only on `seed[i]`).
            labels: int `(num,)` class labels for a class-conditional model.
            temperature: positive float, see `output_distribution`.

        Returns:
            uint8 `(num, height, width, channels)` images.
        """
        return sampling.sample(self, num, seed, labels=labels, temperature=temperature)

    def complete(self, images, known_mask, seed, labels=None, temperature=1.0):
        """Fills the unknown pixels of images; known pixels are kept exactly.

        Pixels are drawn in raster order, each given all earlier pixels (known
        or drawn); as in the PixelRNN paper's completions, a pixel cannot
        depend on known pixels that come after it.

        Args:
            images: `(batch, height, width, channels)` integer-valued images.
            known_mask: bool `(batch, height, width)`, True where a pixel is
                known.
            seed: as for `sample`, with `batch` in place of `num`.
            labels: int `(batch,)` for a class-conditional model.
            temperature: positive float.

        Returns:
            uint8 images of the same shape.
        """
        return sampling.complete(
            self, images, known_mask, seed, labels=labels, temperature=temperature
        )

    # --- Config ---------------------------------------------------------------

    def get_config(self):
        # The graph is rebuilt from these arguments (as keras-hub models do),
        # so a saved model never depends on serializing the functional graph.
        return {
            "name": self.name,
            "trainable": self.trainable,
            "image_shape": self.image_shape,
            "num_levels": self.num_levels,
            "num_filters": self.num_filters,
            "num_resnet": self.num_resnet,
            "num_hierarchies": self.num_hierarchies,
            "num_logistic_mix": self.num_logistic_mix,
            "dropout": self.dropout,
            "num_classes": self.num_classes,
            "min_log_scale": self.min_log_scale,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["image_shape"] = tuple(config["image_shape"])
        return cls(**config)

    @classmethod
    def from_preset(cls, preset, **overrides):
        """Builds a model from a named preset, with any argument overridden.

        Args:
            preset: one of `presets.PIXEL_CNN_PP_PRESETS` (`"cifar10"`,
                `"mnist"`, `"tiny"`).
            **overrides: constructor arguments that replace the preset's.
        """
        return cls(**presets_lib.pixel_cnn_pp_preset(preset, **overrides))
