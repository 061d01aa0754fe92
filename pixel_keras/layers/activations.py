"""ELU and sigmoid that a CPU computes in float32 for 16-bit floats.

Under a mixed policy the network's tensors are bfloat16 (or float16), and
TensorFlow's CPU kernels for `Elu`, `Sigmoid` and their gradients convert
such tensors element by element: on an AMX Xeon (2 cores) a bfloat16 `Elu`
took three times as long as a float32 one, and these activations were a
quarter of a PixelCNN++ train step's thread time. Cast to float32, computed,
and cast back, they are two conversions and one vectorized kernel, and round
once; in a whole train step the conversions, and their gradients, take
back much of the gain (BUILD.md, "Decisions"). On GPUs, whose kernels
compute 16-bit floats natively, they stay in the tensor's dtype.
"""

import keras
from keras import ops

from pixel_keras.layers.padded_conv2d import cpu_only

_HALF_PRECISION = ("bfloat16", "float16")


def _in_float32_on_cpu(activation, x):
    if not isinstance(x, keras.KerasTensor):
        x = ops.convert_to_tensor(x)
    dtype = keras.backend.standardize_dtype(x.dtype)
    if dtype in _HALF_PRECISION and cpu_only():
        return ops.cast(activation(ops.cast(x, "float32")), dtype)
    return activation(x)


def elu(x):
    """`keras.ops.elu(x)`, computed in float32 for a 16-bit `x` on a CPU.

    Args:
        x: floating tensor.

    Returns:
        A tensor of `x`'s shape and dtype.
    """
    return _in_float32_on_cpu(ops.elu, x)


def sigmoid(x):
    """`keras.ops.sigmoid(x)`, computed in float32 for a 16-bit `x` on a CPU.

    Args:
        x: floating tensor.

    Returns:
        A tensor of `x`'s shape and dtype.
    """
    return _in_float32_on_cpu(ops.sigmoid, x)
