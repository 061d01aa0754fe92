"""Forward and backward time of the causal convolutions against TFP's masks.

TFP's PixelCNN runs full 3x3 kernels times a mask; pixel_keras runs 2x3
(down-shifted) and 2x2 (down-right-shifted) kernels after causal padding,
through `padded_conv2d`, which has three exact backward passes
(`"tensorflow"`, `"forward"`, `"same"`) and by default measures which is the
fastest on the running machine. This prints, for one layer at a PixelCNN++
size, the forward and the backward (input and kernel gradients) time of
each: TFP's masked 3x3 and each backward pass of the shifted kernels, their
ratios to TFP's, and the backward pass `padded_conv2d` chooses here.

    python benchmarks/conv_kernels.py [--batch_size 16] [--size 28] [--channels 64]
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from machine import machine_summary  # noqa: E402
from pixel_keras.layers import padded_conv2d as padded_conv2d_lib  # noqa: E402


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

    def ours(padding, backward):
        return lambda x, k: padded_conv2d_lib.padded_conv2d(x, k, padding, backward=backward)

    def masked_3x3(x, k):
        return tf.nn.conv2d(x, k, 1, "SAME")

    rows = [("TFP masked 3x3", masked_3x3, [3, 3, cin, cout])]
    shapes = {"down-shifted 2x3": ((1, 0), (1, 1)), "down-right 2x2": ((1, 0), (1, 0))}
    for layer, padding in shapes.items():
        kernel = [2, 3 if "2x3" in layer else 2, cin, cout]
        for backward in padded_conv2d_lib.BACKWARD_PASSES:
            rows.append((f"{layer}, {backward} backward", ours(padding, backward), kernel))
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
    for layer, padding in shapes.items():
        kernel = [2, 3 if "2x3" in layer else 2, cin, cout]
        choice = padded_conv2d_lib.choose_backward(
            tuple(inputs.shape), kernel, padding, inputs.dtype
        )
        print(f"{layer}: padded_conv2d chooses the {choice} backward pass on this machine")


if __name__ == "__main__":
    main()
