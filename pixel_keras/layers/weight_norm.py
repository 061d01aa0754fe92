"""Weight normalization (Salimans & Kingma, 2016) with data-dependent init.

A weight-normalized layer stores its kernel as a direction `v` (the layer's
`kernel` variable) and one scale `g` per output channel (`kernel_g`), and
computes with the effective kernel

    w = g * v / ||v||        (the norm over every axis but the output channel)

`layer.kernel` returns that effective kernel as a tensor, so code that reads
`layer.kernel` / `layer.bias` (the cached samplers, the export) needs no
change. `g` starts at `||v||`, so before the data-dependent initialization
the layer computes what the plain layer would.

The data-dependent initialization (`initialize`) runs the model once on a
batch, in forward order, and sets each layer's `g` and bias so that its
outputs on that batch have zero mean and unit variance per channel. Each
layer already returns its normalized outputs during that pass, so a later
layer is initialized on the outputs the earlier layers will actually produce
(initializing every layer from one pass of the un-initialized network would
leave the later layers far from unit variance).
"""

import contextlib

import keras
from keras import ops

# Added to the variance in the data-dependent initialization (as the
# reference code), and the floor of ||v||^2 (as `tf.nn.l2_normalize`).
_VARIANCE_EPSILON = 1e-10
_SQUARED_NORM_FLOOR = 1e-12


class WeightNorm:
    """Mixin that weight-normalizes a Keras layer's `kernel`.

    Put it before a Keras layer class that keeps its kernel in `_kernel` and a
    `bias` (`Conv2D`, `Conv2DTranspose`, `Dense`). The layer sets
    `self.weight_norm` in `__init__` and runs its computation through
    `self._weight_norm_call(compute, inputs)` in `call`, which is where the
    data-dependent initialization happens.

    Class attributes:
        kernel_output_axis: the kernel axis that indexes output channels
            (-1 for `Conv2D` and `Dense`, -2 for `Conv2DTranspose`).
    """

    kernel_output_axis = -1
    weight_norm = False
    _initializing_weight_norm = False

    def _check_weight_norm_arguments(self):
        if self.weight_norm and not self.use_bias:
            raise ValueError(
                f"`{type(self).__name__}` with weight_norm=True needs a bias (the "
                "data-dependent initialization sets it). Received: use_bias=False"
            )

    def build(self, input_shape):
        super().build(input_shape)
        if self.weight_norm:
            channels = self._kernel.shape[self.kernel_output_axis]
            self.kernel_g = self.add_weight(
                name="kernel_g",
                shape=(channels,),
                # The norm of the initial direction: the effective kernel
                # starts equal to the initial kernel.
                initializer=lambda shape, dtype: ops.cast(
                    ops.reshape(self._kernel_norm(), shape), dtype
                ),
                trainable=True,
            )

    # A masked convolution's 0/1 mask of its kernel (set in its `build`,
    # before the kernel's); None for a layer whose every tap acts.
    mask = None

    def _kernel_direction(self):
        """The kernel's direction `v` as a tensor: times the layer's `mask`
        where it has one, so that only the taps that act are normalized and
        the masked ones get no gradient through the norm."""
        kernel = ops.convert_to_tensor(self._kernel)
        if self.mask is None:
            return kernel
        return kernel * ops.cast(self.mask, kernel.dtype)

    def _norm_axes(self):
        rank = len(self._kernel.shape)
        output_axis = self.kernel_output_axis % rank
        return tuple(axis for axis in range(rank) if axis != output_axis)

    def _kernel_norm(self):
        squared = ops.sum(
            ops.square(self._kernel_direction()),
            axis=self._norm_axes(),
            keepdims=True,
        )
        return ops.sqrt(ops.maximum(squared, _SQUARED_NORM_FLOOR))

    @property
    def kernel_v(self):
        """The direction `v` of the kernel (a variable)."""
        return self._kernel

    @property
    def kernel(self):
        """The kernel the layer computes with: `g * v / ||v||` when
        weight-normalized, else the base layer's kernel."""
        if not self.weight_norm:
            # Conv2D and Dense define `kernel` as a property (LoRA,
            # quantization); Conv2DTranspose keeps a plain attribute.
            base = getattr(super(), "kernel", None)
            return self._kernel if base is None else base
        direction = self._kernel_direction()
        squared = ops.sum(ops.square(direction), axis=self._norm_axes(), keepdims=True)
        scale = ops.reshape(self.kernel_g, ops.shape(squared)) / ops.sqrt(
            ops.maximum(squared, _SQUARED_NORM_FLOOR)
        )
        return direction * ops.cast(scale, direction.dtype)

    @kernel.setter
    def kernel(self, value):
        # Conv2DTranspose.build assigns `self.kernel`.
        self._kernel = value

    def _weight_norm_call(self, compute, inputs):
        """`compute(inputs)`, or during `initialize` the same with `g` and
        the bias set so that the outputs on `inputs` are normalized."""
        if not self._initializing_weight_norm:
            return compute(inputs)
        # With g = 1 and no bias the layer computes v / ||v|| applied to the
        # inputs; its outputs' moments give the g and bias that normalize them.
        self.kernel_g.assign(ops.ones_like(self.kernel_g))
        self.bias.assign(ops.zeros_like(self.bias))
        activation, self.activation = self.activation, None
        try:
            outputs = compute(inputs)
        finally:
            self.activation = activation
        axes = tuple(range(len(outputs.shape) - 1))
        mean, variance = ops.moments(outputs, axes=axes)
        scale = 1.0 / ops.sqrt(variance + _VARIANCE_EPSILON)
        self.kernel_g.assign(scale)
        self.bias.assign(-mean * scale)
        outputs = (outputs - mean) * scale
        return outputs if activation is None else activation(outputs)

    def save_own_variables(self, store):
        if not self.weight_norm:
            return super().save_own_variables(store)
        # Conv2D and Dense save their (effective) `kernel`; a weight-normalized
        # layer saves v, the bias and g, the variables it trains.
        return keras.layers.Layer.save_own_variables(self, store)

    def load_own_variables(self, store):
        if not self.weight_norm:
            return super().load_own_variables(store)
        return keras.layers.Layer.load_own_variables(self, store)


@keras.saving.register_keras_serializable(package="pixel_keras")
class WeightNormDense(WeightNorm, keras.layers.Dense):
    """A `keras.layers.Dense` whose kernel is weight-normalized.

    Args:
        units: int, output features.
        **kwargs: other `keras.layers.Dense` arguments (`use_bias` must stay
            True).

    Input shape:
        `(..., features)`.

    Output shape:
        `(..., units)`.

    Example:

    >>> layer = WeightNormDense(4)
    >>> layer(keras.ops.ones((2, 3))).shape
    (2, 4)
    """

    weight_norm = True

    def __init__(self, units, **kwargs):
        super().__init__(units, **kwargs)
        self._check_weight_norm_arguments()

    def call(self, inputs, training=None):
        return self._weight_norm_call(super().call, inputs)


@keras.saving.register_keras_serializable(package="pixel_keras")
class WeightNormConv2D(WeightNorm, keras.layers.Conv2D):
    """A `keras.layers.Conv2D` whose kernel is weight-normalized.

    Args:
        filters: int, output channels.
        kernel_size: int or pair, the kernel's size.
        **kwargs: other `keras.layers.Conv2D` arguments (`use_bias` must
            stay True).

    Input shape:
        `(batch, height, width, channels)` (channels last).

    Output shape:
        `(batch, new_height, new_width, filters)`.

    Example:

    >>> layer = WeightNormConv2D(4, 1)
    >>> layer(keras.ops.ones((2, 5, 5, 3))).shape
    (2, 5, 5, 4)
    """

    weight_norm = True

    def __init__(self, filters, kernel_size, **kwargs):
        super().__init__(filters, kernel_size, **kwargs)
        self._check_weight_norm_arguments()

    def call(self, inputs):
        return self._weight_norm_call(super().call, inputs)


def weight_normalized_layers(model):
    """Every weight-normalized layer in `model` (nested ones included)."""
    return [
        layer
        for layer in model._flatten_layers(include_self=True, recursive=True)
        if isinstance(layer, WeightNorm) and layer.weight_norm
    ]


@contextlib.contextmanager
def _initializing(layers):
    for layer in layers:
        layer._initializing_weight_norm = True
    try:
        yield
    finally:
        for layer in layers:
            layer._initializing_weight_norm = False


def initialize(model, inputs, **call_kwargs):
    """Data-dependent initialization of the weight-normalized layers.

    Runs `model(inputs, training=False)` once, eagerly. Every
    weight-normalized layer, when its turn comes in the forward pass, sets
    its `g` and bias so that its outputs on this batch have zero mean and
    unit variance per channel (over batch and positions), and passes those
    normalized outputs on: each later layer is initialized on what the
    earlier, already initialized layers produce.

    Args:
        model: a built Keras model or layer.
        inputs: a batch of its inputs (a real training batch).
        **call_kwargs: more arguments of the model's call.

    Returns:
        The initialized layers, in no particular order.

    Raises:
        ValueError: if `model` has no weight-normalized layer.
    """
    layers = weight_normalized_layers(model)
    if not layers:
        raise ValueError(
            f"`{model.name}` has no weight-normalized layer to initialize."
        )
    with _initializing(layers):
        model(inputs, training=False, **call_kwargs)
    return layers
