"""`FusedAdam`: Keras' Adam, updating each variable with one fused kernel.

Keras 3's `Adam.update_step` builds about twenty small ops per variable
(casts, powers, the two moment updates, the step), so a model of a hundred
variables pays two thousand op dispatches per step: measured, Adam took
38.6 ms of a 181 ms PixelCNN++ train step on a 2-core CPU, against 24.4 ms
for tf_keras' Adam on TFP's PixelCNN with 1.8 times the weights
(`benchmarks/vs_tfp.py --breakdown`). tf_keras runs TensorFlow's
`ResourceApplyAdam` kernel, which does the same arithmetic in one op, and so
does this class, with the same state variables as `keras.optimizers.Adam`
(a checkpoint of either restores into the other).
"""

import keras
import tensorflow as tf
from keras import ops


def _plain_variable(variable):
    """The `tf.Variable` behind `variable` when the fused kernel can update
    it in place, else None (a variable of a multi-replica strategy, whose
    per-device updates Keras' own path handles)."""
    if isinstance(variable, keras.Variable):
        variable = variable.value
    if isinstance(variable, tf.distribute.DistributedValues) or hasattr(
        variable, "_distributed_container"
    ):
        return None
    return variable if hasattr(variable, "handle") else None


@keras.saving.register_keras_serializable(package="pixel_keras")
class FusedAdam(keras.optimizers.Adam):
    """`keras.optimizers.Adam` whose per-variable update is TensorFlow's fused
    `ResourceApplyAdam` kernel.

    The arithmetic is Keras' (and TensorFlow's): with
    `alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)`,
    `m += (g - m) (1 - beta_1)`, `v += (g^2 - v) (1 - beta_2)` and
    `w -= alpha m / (sqrt(v) + epsilon)`. Keras' own update runs instead
    where the kernel does not apply: `amsgrad`, sparse gradients (an
    embedding's), variables of a multi-replica `tf.distribute` strategy,
    and backends other than TensorFlow.

    Args:
        *args, **kwargs: `keras.optimizers.Adam` arguments; the default
            name is Adam's, `"adam"`, so that the state variables have the
            same paths.
    """

    def __init__(self, *args, name="adam", **kwargs):
        super().__init__(*args, name=name, **kwargs)

    def update_step(self, gradient, variable, learning_rate):
        index = self._get_variable_index(variable)
        handles = [
            _plain_variable(v)
            for v in (variable, self._momentums[index], self._velocities[index])
        ]
        if (
            keras.backend.backend() != "tensorflow"
            or self.amsgrad
            or isinstance(gradient, tf.IndexedSlices)
            or any(handle is None for handle in handles)
        ):
            return super().update_step(gradient, variable, learning_rate)
        dtype = variable.dtype
        local_step = ops.cast(self.iterations + 1, dtype)
        tf.raw_ops.ResourceApplyAdam(
            var=handles[0].handle,
            m=handles[1].handle,
            v=handles[2].handle,
            beta1_power=ops.power(ops.cast(self.beta_1, dtype), local_step),
            beta2_power=ops.power(ops.cast(self.beta_2, dtype), local_step),
            lr=ops.cast(learning_rate, dtype),
            beta1=ops.cast(self.beta_1, dtype),
            beta2=ops.cast(self.beta_2, dtype),
            epsilon=ops.cast(self.epsilon, dtype),
            grad=ops.cast(gradient, dtype),
        )
