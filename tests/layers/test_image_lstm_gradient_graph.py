"""The image LSTMs' gradient graphs: no strided-slice gradients in the scans;
the two forms of their LSTM update agree to float rounding.

The gradient of a strided slice (`StridedSliceGrad`) fills a zero tensor of
the whole input and writes the slice into it; inside a scan it runs at every
row or column. In the Row LSTM's and Diagonal BiLSTM's train steps they were
a quarter of the thread time (1,120 per step of a 7-layer Row LSTM), and
slices and splits, whose gradients are one pad and one concatenation, made
the steps 1.4x and 1.7x as fast (`benchmarks/pixel_rnn.py`, 2-core AMD
EPYC). This is structural, so it is checked on the graph, on any machine.
"""

import numpy as np
import pytest
import tensorflow as tf

from pixel_keras import layers
from pixel_keras.layers.lstm_gates import lstm_update


def _op_types(graph_def):
    types = {node.op for node in graph_def.node}
    for function in graph_def.library.function:
        types |= {node.op for node in function.node_def}
    return types


@pytest.mark.parametrize(
    "layer",
    [
        layers.RowLSTM(4, num_channel_groups=2),
        layers.DiagonalLSTM(4, num_channel_groups=2),
        layers.DiagonalBiLSTM(4, num_channel_groups=2),
    ],
    ids=["row_lstm", "diagonal_lstm", "diagonal_bilstm"],
)
def test_gradient_has_no_strided_slice_gradients(layer):
    inputs = tf.random.stateless_normal([2, 5, 6, 4], [0, 1])
    layer(inputs)  # builds

    @tf.function
    def gradients(inputs):
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            loss = tf.reduce_sum(tf.square(layer(inputs)))
        return tape.gradient(loss, [inputs, *layer.trainable_variables])

    graph_def = gradients.get_concrete_function(inputs).graph.as_graph_def()
    op_types = _op_types(graph_def)
    # The scan's gradient is there (the check sees inside its functions) ...
    assert "While" in op_types or "StatelessWhile" in op_types, sorted(op_types)
    assert "MatMul" in op_types
    # ... and has no strided-slice gradient.
    assert "StridedSliceGrad" not in op_types, sorted(op_types)


@pytest.mark.parametrize("shape", [(3, 8), (2, 5, 7, 12)])
def test_lstm_update_is_the_same_with_one_sigmoid_or_one_per_gate(shape):
    # The cached samplers take one sigmoid for three gates, the layers one
    # per gate. The arithmetic is the same; TensorFlow's sigmoid computes the
    # elements past the last full vector register of a tensor by another
    # path, which may round them an ulp apart, so the two agree to an ulp.
    gates = tf.random.stateless_normal(shape, [1, 2]) * 4.0
    cell = tf.random.stateless_normal(shape[:-1] + (shape[-1] // 4,), [1, 3])
    per_gate = lstm_update(gates, cell)
    once = lstm_update(gates, cell, sigmoid_once=True)
    for a, b in zip(per_gate, once):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, atol=1e-7)
