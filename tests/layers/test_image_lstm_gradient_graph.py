"""The image LSTMs' gradient graphs: no strided-slice gradients in the scans.

The gradient of a strided slice (`StridedSliceGrad`) fills a zero tensor of
the whole input and writes the slice into it; inside a scan it runs at every
row or column. In the Row LSTM's and Diagonal BiLSTM's train steps they were
a quarter of the thread time (1,120 per step of a 7-layer Row LSTM), and
slices and splits, whose gradients are one pad and one concatenation, made
the steps 1.4x and 1.7x as fast (`benchmarks/pixel_rnn.py`, 2-core AMD
EPYC). This is structural, so it is checked on the graph, on any machine.
"""

import pytest
import tensorflow as tf

from pixel_keras import layers


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
