"""Benchmark: train-step speed of the Gated PixelCNN against PixelCNN.

Builds the PixelRNN paper's `PixelCNN` (h = `--num_filters`,
`--num_layers` residual blocks, output layer 2h) and a `GatedPixelCNN`
(`--gated_layers` layers of `--kernel_size` x `--kernel_size`, output layer
2p) whose width p is chosen so that its parameter count is the nearest to
PixelCNN's, on the 28x28x1 digits of `digits_npz.py` (256 levels) by
default. Each model is compiled bare (`model.compile()`: its family's
recommended optimizer, what `main.py` trains with) and measured in one
process by `model.fit` on the same endless shuffled batches
(`training.input_pipelines`): each repeat is one `fit` call of `--steps`
steps, timed from the end of its first step to the end of its last (the
loss read, so the step has finished), which leaves out `fit`'s set-up and
the first step's tracing. The two models take turns, in alternating order,
so that a slow spell of the machine hits both; the table gives the medians
and the ratio.

Usage (from the repository root):

    python benchmarks/gated_train_step.py
    python benchmarks/gated_train_step.py --dataset digits --num_filters 64 --num_layers 5
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import machine  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--dataset",
        default="digits28",
        help="digits28 (the digits resized to 28x28, 256 levels; digits_npz.py), "
        "or anything `pixel_keras.data.load` reads (digits, a .npz, ...)",
    )
    parser.add_argument("--num_filters", type=int, default=32, help="PixelCNN's h")
    parser.add_argument("--num_layers", type=int, default=7, help="PixelCNN's blocks")
    parser.add_argument("--gated_layers", type=int, default=5, help="Gated PixelCNN's layers")
    parser.add_argument("--kernel_size", type=int, default=5, help="Gated PixelCNN's n")
    parser.add_argument("--batch_size", type=int, default=16)
    parser.add_argument("--steps", type=int, default=11, help="fit steps per repeat")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    for flag in ("num_filters", "num_layers", "gated_layers", "batch_size", "repeats"):
        if getattr(args, flag) < 1:
            parser.error(f"--{flag} must be >= 1, received {getattr(args, flag)}")
    if args.steps < 2:
        parser.error(f"--steps must be >= 2 (the first is not timed), received {args.steps}")
    return args


def load_dataset(name):
    import numpy as np

    from pixel_keras import data

    if name != "digits28":
        return data.load(name)
    import tempfile

    import digits_npz

    images, labels, test_images, test_labels = digits_npz.digits_28x28()
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "digits28.npz")
        np.savez(
            path, images=images, labels=labels, test_images=test_images, test_labels=test_labels
        )
        return data.load(path)


def build_pair(dataset, args):
    """`{"pixel_cnn": model, "gated_pixel_cnn": model}`, the gated width the
    nearest to PixelCNN's parameter count (the count grows with p)."""
    import keras

    from pixel_keras.models import GatedPixelCNN
    from pixel_keras.models import PixelCNN

    shape = {"image_shape": dataset.image_shape, "num_levels": dataset.num_levels}
    keras.utils.set_random_seed(args.seed)
    pixel_cnn = PixelCNN(
        **shape,
        num_filters=args.num_filters,
        num_layers=args.num_layers,
        output_filters=2 * args.num_filters,
    )
    target = pixel_cnn.count_params()

    def gated(width):
        keras.utils.set_random_seed(args.seed)
        return GatedPixelCNN(
            **shape,
            num_filters=width,
            num_layers=args.gated_layers,
            kernel_size=args.kernel_size,
            output_filters=2 * width,
        )

    low, high = dataset.image_shape[-1], 2 * args.num_filters + 8
    while gated(high).count_params() < target:
        high *= 2
    while high - low > 1:  # The smallest width with at least `target` weights.
        middle = (low + high) // 2
        low, high = (middle, high) if gated(middle).count_params() < target else (low, middle)
    counts = {w: gated(w).count_params() for w in (low, high)}
    width = min(counts, key=lambda w: abs(counts[w] - target))
    return {"pixel_cnn": pixel_cnn, "gated_pixel_cnn": gated(width)}, width


def main(argv=None):
    args = parse_args(argv)
    import keras

    from pixel_keras import training

    print(machine.machine_summary())
    print(f"Load average at start: {os.getloadavg()}")
    dataset = load_dataset(args.dataset)
    models, width = build_pair(dataset, args)
    train, _ = training.input_pipelines(dataset, args.batch_size, False, args.seed)
    batches = train.repeat()
    for model in models.values():
        model.compile()

    class StepClock(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.times = []

        def on_train_batch_end(self, batch, logs=None):
            float(logs["loss"])  # Waits for the step.
            self.times.append(time.perf_counter())

    def fit(model):
        clock = StepClock()
        model.fit(
            batches,
            steps_per_epoch=args.steps,
            epochs=1,
            callbacks=[clock],
            verbose=0,
            shuffle=False,
        )
        return (clock.times[-1] - clock.times[0]) / (len(clock.times) - 1)

    for model in models.values():
        fit(model)  # Tracing and first-call allocation.
    seconds = {name: [] for name in models}
    for repeat in range(args.repeats):
        order = list(models) if repeat % 2 == 0 else list(reversed(models))
        for name in order:
            seconds[name].append(fit(models[name]))

    print(
        f"\n{os.path.basename(str(dataset.name))}: {dataset.image_shape}, "
        f"{dataset.num_levels} levels, batch {args.batch_size}, bare model.compile() "
        f"(jit_compile {models['pixel_cnn'].jit_compile}/"
        f"{models['gated_pixel_cnn'].jit_compile}); median of {args.repeats} fit calls "
        f"x {args.steps - 1} timed steps, alternating"
    )
    print(
        f"PixelCNN h = {args.num_filters}, {args.num_layers} blocks; Gated PixelCNN "
        f"p = {width}, {args.gated_layers} layers, {args.kernel_size}x{args.kernel_size}"
    )
    print("\n| model | params | step ms | images/s | step / PixelCNN's |")
    print("|---|---:|---:|---:|---:|")
    reference = statistics.median(seconds["pixel_cnn"])
    for name, model in models.items():
        step = statistics.median(seconds[name])
        print(
            f"| {name} | {model.count_params():,} | {step * 1e3:.1f} "
            f"| {args.batch_size / step:.1f} | {step / reference:.2f} |"
        )
    print(f"\nLoad average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
