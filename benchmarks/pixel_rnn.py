"""Benchmark: train-step speed of the PixelRNN paper's three models.

Builds PixelCNN, Row LSTM and Diagonal BiLSTM at the same h (`num_filters`)
and depth (`num_layers`) on 28x28x1 images (the paper's binarized MNIST
models: h = 16, 7 layers, a sigmoid per pixel), and measures in one run the
images/s of a full Keras train step (`model.train_on_batch`: forward, bits/dim
loss, backward, Adam update; no XLA) after warm-up, as the median over
repeats in which the three models take turns, so that a slow spell of the
machine hits all of them. It prints each model's step time relative to the
Row LSTM's; the paper's ordering is PixelCNN fastest, Diagonal BiLSTM slowest.

Usage (from the repository root):

    python benchmarks/pixel_rnn.py
    python benchmarks/pixel_rnn.py --num_filters 32 --num_levels 256 --batch_size 32
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from machine import machine_summary  # noqa: E402
from pixel_keras.models import PixelCNN  # noqa: E402
from pixel_keras.models import PixelRNN  # noqa: E402

MODELS = {
    "pixel_cnn": (PixelCNN, {}),
    "row_lstm": (PixelRNN, {"kind": "row_lstm"}),
    "diagonal_bilstm": (PixelRNN, {"kind": "diagonal_bilstm"}),
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--image_size", type=int, default=28)
    parser.add_argument("--channels", type=int, default=1)
    parser.add_argument("--num_levels", type=int, default=2)
    parser.add_argument("--num_filters", type=int, default=16, help="h")
    parser.add_argument("--num_layers", type=int, default=7)
    parser.add_argument("--output_filters", type=int, default=32)
    parser.add_argument("--batch_size", type=int, default=16)
    parser.add_argument("--steps", type=int, default=5, help="train steps per repeat")
    parser.add_argument("--repeats", type=int, default=5)
    return parser.parse_args(argv)


def build(name, args):
    model_class, fixed = MODELS[name]
    model = model_class(
        image_shape=(args.image_size, args.image_size, args.channels),
        num_levels=args.num_levels,
        num_filters=args.num_filters,
        num_layers=args.num_layers,
        output_filters=args.output_filters,
        **fixed,
    )
    model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=False)
    return model


def main(argv=None):
    args = parse_args(argv)
    keras.utils.set_random_seed(0)
    shape = (args.batch_size, args.image_size, args.image_size, args.channels)
    images = np.random.default_rng(0).integers(0, args.num_levels, shape).astype("float32")
    models = {name: build(name, args) for name in MODELS}
    for model in models.values():
        for _ in range(2):  # Tracing and first-call allocation.
            model.train_on_batch(images)
    seconds = {name: [] for name in MODELS}
    for repeat in range(args.repeats):
        order = list(MODELS) if repeat % 2 == 0 else list(reversed(MODELS))
        for name in order:
            start = time.perf_counter()
            for _ in range(args.steps):
                model = models[name]
                model.train_on_batch(images)
            seconds[name].append((time.perf_counter() - start) / args.steps)

    print(f"# {machine_summary()}")
    print(
        f"# {args.image_size}x{args.image_size}x{args.channels}, {args.num_levels} levels, "
        f"h={args.num_filters}, {args.num_layers} layers, batch {args.batch_size}, "
        f"median of {args.repeats} x {args.steps} steps"
    )
    print(f"{'model':<18}{'params':>10}{'step ms':>10}{'images/s':>10}{'step / Row LSTM':>18}")
    row_lstm = statistics.median(seconds["row_lstm"])
    for name, model in models.items():
        step = statistics.median(seconds[name])
        print(
            f"{name:<18}{model.count_params():>10,}{step * 1e3:>10.1f}"
            f"{args.batch_size / step:>10.1f}{step / row_lstm:>17.2f}x"
        )


if __name__ == "__main__":
    main()
