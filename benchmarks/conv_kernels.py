"""Forward and backward time of the causal convolutions against TFP's masks.

TFP's PixelCNN runs full 3x3 kernels times a mask; pixel_keras runs 2x3
(down-shifted) and 2x2 (down-right-shifted) kernels after causal padding,
through `padded_conv2d`, whose backward pass on CPU is made of forward
convolutions. This prints, for one layer at a PixelCNN++ size, the forward
and the backward (input and kernel gradients) time of each: TFP's masked
3x3, the shifted kernels with TensorFlow's own backward kernels, and
`padded_conv2d`, and their ratios, which bound how much faster a whole train
step of the same architecture can be.

    python benchmarks/conv_kernels.py [--batch_size 16] [--size 28] [--channels 64]
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from machine import machine_summary  # noqa: E402
from pixel_keras.layers.padded_conv2d import padded_conv2d  # noqa: E402


def _median_ms(fn, inputs, repeats=15):
    for _ in range(3):
        tf.nest.map_structure(lambda t: t.numpy(), fn(inputs))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        tf.nest.map_structure(lambda t: t.numpy(), fn(inputs))
        times.append(time.perf_counter() - start)
    return 1000.0 * float(np.median(times))


def _forward_and_backward(conv, kernel_shape, inputs):
    kernel = tf.Variable(tf.random.normal(kernel_shape, stddev=0.05))

    @tf.function
    def forward(x):
        return conv(x, kernel)

    @tf.function
    def backward(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            total = tf.reduce_sum(conv(x, kernel))
        return tape.gradient(total, [x, kernel])

    return _median_ms(forward, inputs), _median_ms(backward, inputs)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch_size", type=int, default=16)
    parser.add_argument("--size", type=int, default=28)
    parser.add_argument("--channels", type=int, default=64, help="input channels (2x filters after concat_elu)")
    args = parser.parse_args()
    cin, cout = args.channels, args.channels // 2
    inputs = tf.random.normal([args.batch_size, args.size, args.size, cin])

    def shifted(padding):
        return lambda x, k: tf.nn.conv2d(tf.pad(x, padding), k, 1, "VALID")

    def ours(padding):
        return lambda x, k: padded_conv2d(x, k, padding, forward_gradients=True)

    def masked_3x3(x, k):
        return tf.nn.conv2d(x, k, 1, "SAME")

    down, down_right = ((1, 0), (1, 1)), ((1, 0), (1, 0))
    rows = [
        ("TFP masked 3x3", masked_3x3, [3, 3, cin, cout]),
        ("down-shifted 2x3, TF backward", shifted([[0, 0], *down, [0, 0]]), [2, 3, cin, cout]),
        ("down-shifted 2x3, ours", ours(down), [2, 3, cin, cout]),
        ("down-right 2x2, TF backward", shifted([[0, 0], *down_right, [0, 0]]), [2, 2, cin, cout]),
        ("down-right 2x2, ours", ours(down_right), [2, 2, cin, cout]),
    ]
    results = {name: _forward_and_backward(conv, shape, inputs) for name, conv, shape in rows}
    print(machine_summary())
    print(f"input {tuple(inputs.shape)} -> {cout} channels")
    print(f"{'layer':32s} {'forward ms':>11s} {'backward ms':>12s}")
    for name, (forward, backward) in results.items():
        print(f"{name:32s} {forward:11.2f} {backward:12.2f}")
    forward_tfp, backward_tfp = results[rows[0][0]]
    for name, _, _ in rows[1:]:
        forward, backward = results[name]
        print(
            f"{name} vs TFP's masked 3x3: forward {forward_tfp / forward:.2f}x, "
            f"backward {backward_tfp / backward:.2f}x faster"
        )


if __name__ == "__main__":
    main()
