"""Benchmark: held-out bits/dim against wall-clock training time.

Trains each model for the same wall-clock budget on the train split of one
dataset and evaluates it on the same held-out test split, in one process,
one model after another:

* `pixel_cnn_pp`: pixel_keras' PixelCNN++, `tiny` preset;
* `pixel_cnn`, `row_lstm`, `diagonal_bilstm`: the PixelRNN paper's models,
  their `tiny` presets widened and deepened to about PixelCNN++'s parameter
  count (`COMPARABLE`: PixelCNN h = 64, 5 blocks; the PixelRNNs h = 48,
  3 layers; output layers 2h);
* `gated_pixel_cnn`: the Gated PixelCNN, its `tiny` preset grown the same
  way (p = 48, 4 layers of 5 x 5, output layer 2p);
* `pixel_snail`: PixelSNAIL, its `tiny` preset (2 blocks of 1 gated resnet
  and one attention, keys of 8, values of 16, 5 mixture components) widened
  to 64 filters;
* `tfp`: `tfp.distributions.PixelCNN` with the architecture of our `tiny`
  PixelCNN++ (num_resnet, num_hierarchies, num_filters, num_logistic_mix and
  dropout from the preset; `low=0`, `high=num_levels - 1`, so it is a
  quantized logistic mixture over the same integer levels). Its weight
  normalization is off, as in `vs_tfp.py`, because our model has none.

The presets' image shape and number of levels are replaced by the dataset's.
The parameter counts (printed, with the count of weights the causal masks
keep) are within about 25% of each other on the digits.

Training. Every model sees the same sequence of shuffled batches
(`--batch_size`; the train pipeline of `pixel_keras.training.input_pipelines`,
seeded and repeated, so one iterator serves the whole run) and Adam at a
learning rate of 1e-3, each side with its library's standard settings:

* ours: a bare `model.compile()`, the family's recommended optimizer (its
  digits recipe, as `main.py` trains: Adam at 2e-3, beta_1 0.95, beta_2
  0.9995, the rate decayed x0.999995 per step, EMA weights of momentum 0.99
  for PixelCNN++; `--plain_optimizer` for `make_optimizer()`'s defaults), and
  `model.fit` on the endless data, with a callback that stops it at the end
  of the first step past the budget. The loss is the mean NLL in bits/dim.
  The PixelRNN paper's models train with this Adam too (not the paper's
  RMSProp), so that only the model differs.
* TFP: a `tf.function` train step (forward, mean NLL in nats, backward)
  with `tf_keras.optimizers.Adam(1e-3)` (beta_1 0.9, beta_2 0.999, a
  constant rate; it also applies the masks of TFP's kernels), as in
  `vs_tfp.py`. (Adam's steps do not depend on the loss's scale, bits/dim or
  nats, but for its epsilon.)

Dropout is active in training on both sides.

The clock. Training time is wall-clock time from the first training step
(its tracing included, on both sides) to the end of the step that passes
the budget, less the time spent evaluating: the clock is paused while the
model is evaluated. Each step is waited for (its loss read) before the
clock is read, so asynchronous devices cannot hide work.

Evaluation: the exact discrete negative log-likelihood over the whole test
split in bits per dimension, dropout off, after the first step past every
`--eval_every_seconds` of training time and at the end
(`pixel_keras.training.evaluate` for ours, with the EMA weights when the
optimizer keeps them; `-sum(log_prob) / (N * H * W * C * ln 2)` for TFP).
At the end the train split (at most its first 10,000 images) is evaluated
the same way, to show overfitting.

Output: a markdown table (parameters, steps, epochs, final and best test
bits/dim, train bits/dim, difference and ratio to TFP, and the 1-minute
load average at the start and the end of each model's run), an SVG plot
of test bits/dim against training seconds (`--plot`, never overwritten,
written atomically) and, with `--json`, the raw points.

Usage (from the repository root):

    python benchmarks/quality.py                       # 10 minutes per model
    python benchmarks/quality.py --dataset my_images.npz --plot mine.svg
    # The 28x28 digits of digits_npz.py (256 levels), written and read as a
    # user's .npz:
    python benchmarks/quality.py --dataset digits28 \\
        --models pixel_snail,pixel_cnn_pp,gated_pixel_cnn,pixel_cnn
    python benchmarks/quality.py --models pixel_cnn_pp,tfp --budget_seconds 60 \\
        --eval_every_seconds 10 --plot /tmp/q.svg --json /tmp/q.json
"""

import argparse
import gc
import io
import math
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


import digits_npz  # noqa: E402
import machine  # noqa: E402
import matplotlib  # noqa: E402

matplotlib.use("Agg")  # files only, no display
from matplotlib import pyplot  # noqa: E402

from pixel_keras import images as images_lib  # noqa: E402
from pixel_keras import training  # noqa: E402

MODELS = (
    "pixel_cnn_pp",
    "pixel_cnn",
    "row_lstm",
    "diagonal_bilstm",
    "gated_pixel_cnn",
    "pixel_snail",
    "tfp",
)
# Train bits/dim at the end is computed over at most this many train images.
_TRAIN_EVAL_LIMIT = 10_000
# Samples drawn from each model after its budget (--samples).
_NUM_SAMPLES = 8
# A parameter count outside [1/x, x] times the reference's is called far off.
_FAR_OFF = 2.0


# --- The clock -------------------------------------------------------------------


class BudgetTracker:
    """Training seconds (paused while evaluating), evaluation points, stopping.

    Args:
        budget: training seconds to spend.
        eval_every: training seconds between evaluations.
        evaluate: function of no arguments returning test bits/dim.
        log: function printing one line.
    """

    def __init__(self, budget, eval_every, evaluate, log):
        self.budget = budget
        self.eval_every = eval_every
        self._evaluate = evaluate
        self._log = log
        self.points = []  # (training seconds, steps, test bits/dim)
        self.steps = 0
        self.eval_seconds = 0.0
        self._spent = 0.0
        self._started = None
        self._next_eval = eval_every

    def start(self):
        self._started = time.perf_counter()

    def seconds(self):
        return self._spent + (time.perf_counter() - self._started)

    def after_step(self):
        """Counts a finished step, evaluates when due; True when the budget is spent."""
        self.steps += 1
        now = self.seconds()
        done = now >= self.budget
        if done or now >= self._next_eval:
            self._spent = now  # The clock stops here...
            start = time.perf_counter()
            bits = self._evaluate()
            self.eval_seconds += time.perf_counter() - start
            self.points.append((now, self.steps, bits))
            self._log(f"  {now:7.1f} s, {self.steps:6d} steps: test {bits:.4f} bits/dim")
            while self._next_eval <= now:
                self._next_eval += self.eval_every
            self._started = time.perf_counter()  # ...and goes on after evaluating.
        return done


# --- Data ------------------------------------------------------------------------


def _train_batches(dataset, args):
    """The same endless sequence of shuffled float32 train batches for every model.

    Repeated, so that one iterator serves the whole run: Keras' `fit` makes
    a new iterator every epoch, which cost 0.7-2 s per epoch with the tiny
    PixelCNN++ on 2 CPU cores (about as much as 10-20 of its steps).
    """
    train, _ = training.input_pipelines(dataset, args.batch_size, False, args.seed)
    return train.repeat()


# --- Our models ------------------------------------------------------------------


# The PixelRNN paper's, the Gated PixelCNN's and PixelSNAIL's tiny presets
# (10k-96k weights) grown to about the parameter count of PixelCNN++'s tiny
# preset (353k on the digits; PixelCNN 293k, Gated PixelCNN 313k,
# PixelSNAIL 364k).
COMPARABLE = {
    "pixel_cnn": {"num_filters": 64, "num_layers": 5, "output_filters": 128},
    "gated_pixel_cnn": {
        "num_filters": 48,
        "num_layers": 4,
        "kernel_size": 5,
        "output_filters": 96,
    },
    "pixel_snail": {"num_filters": 64},
    "row_lstm": {"num_filters": 48, "num_layers": 3, "output_filters": 96},
    "diagonal_bilstm": {"num_filters": 48, "num_layers": 3, "output_filters": 96},
}


def _build_ours(name, dataset, dtype_policy="float32"):
    from pixel_keras.models import GatedPixelCNN, PixelCNN, PixelCNNPlusPlus, PixelRNN, PixelSNAIL

    shape = {
        "image_shape": dataset.image_shape,
        "num_levels": dataset.num_levels,
        "dtype": dtype_policy,
    }
    if name == "pixel_cnn_pp":
        return PixelCNNPlusPlus.from_preset("tiny", **shape)
    if name == "pixel_cnn":
        return PixelCNN.from_preset("tiny", **shape, **COMPARABLE[name])
    if name == "gated_pixel_cnn":
        return GatedPixelCNN.from_preset("tiny", **shape, **COMPARABLE[name])
    if name == "pixel_snail":
        return PixelSNAIL.from_preset("tiny", **shape, **COMPARABLE[name])
    return PixelRNN.from_preset("tiny", kind=name, **shape, **COMPARABLE[name])


def _unmasked_params(model):
    """Weights the causal masks of `MaskedConv2D` layers keep (all others count)."""
    import numpy as np

    masked_out = 0
    for layer in model._flatten_layers(include_self=False, recursive=True):
        mask, kernel = getattr(layer, "mask", None), getattr(layer, "kernel", None)
        if mask is not None and kernel is not None and len(mask.shape) == len(kernel.shape):
            mask = np.broadcast_to(np.asarray(mask), tuple(kernel.shape))
            masked_out += mask.size - np.count_nonzero(mask)
    return model.count_params() - int(masked_out)


def _evaluate_ours(model, examples):
    """Test bits/dim, with the optimizer's EMA weights if it keeps them."""
    with training.ema_weights(model):
        return training.evaluate(model, examples)["bits_per_dim"]


def run_ours(name, dataset, args, log, dtype_policy="float32"):
    import keras

    keras.backend.clear_session()
    keras.utils.set_random_seed(args.seed)
    model = _build_ours(name, dataset, dtype_policy)
    if args.plain_optimizer:
        model.compile(optimizer=training.make_optimizer())
    else:
        # The family's recommended optimizer (its digits recipe: learning
        # rate, decay and EMA weights), as `python main.py --model=NAME`
        # trains and as a bare `model.compile()` gives.
        model.compile()
    result = {"params": model.count_params(), "unmasked_params": _unmasked_params(model)}
    log(
        f"[{name}, {dtype_policy}] {result['params']:,} params "
        f"({result['unmasked_params']:,} not masked out)"
    )
    tracker = BudgetTracker(
        args.budget_seconds,
        args.eval_every_seconds,
        lambda: _evaluate_ours(model, dataset.test),
        log,
    )

    class StopAtBudget(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            tracker.start()

        def on_train_batch_end(self, batch, logs=None):
            float(logs["loss"])  # Waits for the step.
            if tracker.after_step():
                self.model.stop_training = True

    # One epoch of endless data: the callback ends it.
    model.fit(
        _train_batches(dataset, args), callbacks=[StopAtBudget()], verbose=0, shuffle=False
    )
    result["train_bits_per_dim"] = _evaluate_ours(
        model, dataset.train.take(_TRAIN_EVAL_LIMIT)
    )
    if args.samples:
        with training.ema_weights(model):
            result["samples"] = model.sample(_NUM_SAMPLES, seed=args.seed).numpy()
    return result, tracker


# --- TFP's PixelCNN --------------------------------------------------------------


def run_tfp(dataset, args, log):
    import tensorflow as tf
    import tensorflow_probability as tfp
    import tf_keras

    from pixel_keras import data
    from pixel_keras.models import presets

    tiny = presets.preset_config("pixel_cnn_pp", "tiny")
    tf_keras.utils.set_random_seed(args.seed)
    distribution = tfp.distributions.PixelCNN(
        image_shape=dataset.image_shape,
        conditional_shape=None,
        num_resnet=tiny["num_resnet"],
        num_hierarchies=tiny["num_hierarchies"],
        num_filters=tiny["num_filters"],
        num_logistic_mix=tiny["num_logistic_mix"],
        dropout_p=tiny["dropout"],
        use_weight_norm=False,
        high=dataset.num_levels - 1,
        low=0,
    )
    variables = list(distribution.trainable_variables)
    optimizer = tf_keras.optimizers.Adam(1e-3)
    optimizer.build(variables)
    # TFP's causal convolutions are full kernels times a mask (a constraint
    # that the optimizer applies after each step).
    unmasked = 0
    for variable in variables:
        constraint = getattr(variable, "constraint", None)
        if constraint is None:
            unmasked += int(math.prod(variable.shape))
        else:
            unmasked += int(tf.math.count_nonzero(constraint(tf.ones_like(variable))))
    result = {
        "params": sum(int(math.prod(v.shape)) for v in variables),
        "unmasked_params": unmasked,
    }
    log(f"[tfp] {result['params']:,} params ({unmasked:,} not masked out)")

    spec = [tf.TensorSpec([None, *dataset.image_shape], tf.float32)]

    @tf.function(input_signature=spec)
    def train_step(images):
        with tf.GradientTape() as tape:
            loss = -tf.reduce_mean(distribution.log_prob(images, training=True))
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    @tf.function(input_signature=spec)
    def log_prob(images):
        return distribution.log_prob(images, training=False)

    def bits_per_dim(examples):
        total, count = 0.0, 0
        for batch in data.batched(examples, 256):
            values = log_prob(tf.cast(batch["images"], tf.float32)).numpy()
            total -= values.astype("float64").sum()
            count += len(values)
        return total / (count * math.prod(dataset.image_shape) * math.log(2.0))

    tracker = BudgetTracker(
        args.budget_seconds, args.eval_every_seconds, lambda: bits_per_dim(dataset.test), log
    )
    tracker.start()
    for images in _train_batches(dataset, args):
        train_step(images).numpy()  # Waits for the step.
        if tracker.after_step():
            break
    result["train_bits_per_dim"] = bits_per_dim(dataset.train.take(_TRAIN_EVAL_LIMIT))
    if args.samples:
        sample = tf.function(lambda: distribution.sample(_NUM_SAMPLES, seed=args.seed))
        result["samples"] = sample().numpy().astype("uint8")
    return result, tracker


# --- The plot --------------------------------------------------------------------

def plot(series, title, x_label, y_label, legend_title=""):
    """A line plot of `series`, [(name, [(x, y), ...])], one line each, as
    a matplotlib figure."""
    figure, axes = pyplot.subplots(figsize=(8, 4.6))
    for name, points in series:
        xs, ys = zip(*points) if points else ((), ())
        axes.plot(xs, ys, marker="o", markersize=3, linewidth=2, label=name)
    axes.set_title(title)
    axes.set_xlabel(x_label)
    axes.set_ylabel(y_label)
    axes.set_xlim(left=0)
    axes.grid(color="#ddd")
    axes.legend(title=legend_title, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    figure.tight_layout()
    return figure


def _write_new_file(path, data, flag):
    if os.path.exists(path):
        raise FileExistsError(f"{flag} {path!r} exists; nothing is overwritten.")
    if isinstance(data, str):
        data = data.encode("utf-8")
    images_lib.write_file_atomically(path, data)


# --- Main ------------------------------------------------------------------------


def _log(message):
    print(message, flush=True)


def _fmt(value, spec=".4f"):
    return "n/a" if value is None or not math.isfinite(value) else format(value, spec)


def print_table(results, dataset):
    tfp_final = results.get("tfp", {}).get("final")
    _log(
        "\n| model | params (not masked out) | steps | epochs | final test bits/dim "
        "| best test bits/dim (at s) | train bits/dim | final - TFP | final / TFP | load |"
    )
    _log("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for name, r in results.items():
        versus = ("", "")
        if tfp_final is not None and name != "tfp":
            versus = (f"{r['final'] - tfp_final:+.4f}", f"{r['final'] / tfp_final:.3f}")
        epochs = "n/a"
        if dataset.num_train_examples:
            per_epoch = math.ceil(dataset.num_train_examples / r["batch_size"])
            epochs = f"{r['steps'] / per_epoch:.1f}"
        _log(
            f"| {name} | {r['params']:,} ({r['unmasked_params']:,}) | {r['steps']} "
            f"| {epochs} | {_fmt(r['final'])} | {_fmt(r['best'])} ({r['best_at']:.0f}) "
            f"| {_fmt(r['train_bits_per_dim'])} | {versus[0]} | {versus[1]} "
            f"| {r['load'][0]:.1f}-{r['load'][1]:.1f} |"
        )
    _log("load: the 1-minute load average at the start and the end of the model's run.")
    reference = "pixel_cnn_pp" if "pixel_cnn_pp" in results else next(iter(results))
    count = results[reference]["unmasked_params"]
    for name, r in results.items():
        ratio = r["unmasked_params"] / count
        if not 1 / _FAR_OFF <= ratio <= _FAR_OFF:
            _log(
                f"Note: {name} has {ratio:.2g}x the (not masked out) parameters of "
                f"{reference}: its parameter count is far off (presets not tuned to match)."
            )
    if "pixel_cnn_pp" in results and tfp_final is not None:
        ours = results["pixel_cnn_pp"]["final"]
        verdict = "met" if ours < tfp_final else "NOT met"
        _log(
            f"Target (pixel_cnn_pp below tfp at the end of the budget): {verdict} "
            f"({ours:.4f} vs {tfp_final:.4f} test bits/dim)."
        )


def _check_new_path(parser, flag, path):
    if path is None:
        return
    if os.path.exists(path):
        parser.error(f"{flag} {path!r} exists; choose another path (nothing is overwritten)")
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory) or not os.access(directory, os.W_OK):
        parser.error(f"{flag} {path!r}: folder {directory!r} does not exist or is not writable")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--dataset",
        default="digits",
        help="digits, digits28 (the digits at 28x28, 256 levels: digits_npz.py), "
        "a .npz, an image folder or a TFDS name",
    )
    parser.add_argument("--data_dir", default=None, help="TFDS data directory")
    parser.add_argument(
        "--num_levels",
        type=int,
        default=None,
        help="pixel levels, 2-256 (default: the dataset's; 256 for a .npz or folder)",
    )
    parser.add_argument("--models", default=",".join(MODELS), help=f"some of {MODELS}")
    parser.add_argument(
        "--dtype_policies",
        default="float32",
        help="comma-separated Keras dtype policies to train each of our models "
        "in (float32, mixed_bfloat16, mixed_float16); a row per model and policy",
    )
    parser.add_argument(
        "--budget_seconds", type=float, default=600.0, help="training seconds per model"
    )
    parser.add_argument(
        "--eval_every_seconds",
        type=float,
        default=None,
        help="training seconds between test evaluations (default: budget / 10)",
    )
    parser.add_argument("--batch_size", type=int, default=32, help="images per step")
    parser.add_argument("--seed", type=int, default=0, help="seed of weights, dropout, shuffling")
    parser.add_argument(
        "--plot",
        default="quality.svg",
        help="plot to write, .svg, .png or .pdf (must not exist)",
    )
    parser.add_argument(
        "--json", default=None, help="also write the raw points here (must not exist)"
    )
    parser.add_argument(
        "--plain_optimizer",
        action="store_true",
        help="train our models with make_optimizer()'s defaults instead of the "
        "family's recommended optimizer (a bare model.compile(), as main.py trains)",
    )
    parser.add_argument(
        "--samples",
        default=None,
        help=f"also write a PNG of {_NUM_SAMPLES} samples of each model after its "
        "budget, a row per model in --models order (must not exist)",
    )
    args = parser.parse_args(argv)
    args.models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in args.models if m not in MODELS]
    if unknown or not args.models:
        parser.error(f"--models: unknown {unknown or 'empty list'}; expected some of {MODELS}")
    if len(set(args.models)) != len(args.models):
        parser.error(f"--models: {args.models} names a model twice")
    args.dtype_policies = [p.strip() for p in args.dtype_policies.split(",") if p.strip()]
    policies = ("float32", "mixed_bfloat16", "mixed_float16")
    if not args.dtype_policies or any(p not in policies for p in args.dtype_policies):
        parser.error(
            f"--dtype_policies: expected some of {policies}, received {args.dtype_policies}"
        )
    if not args.budget_seconds > 0:
        parser.error(f"--budget_seconds must be > 0, received {args.budget_seconds}")
    if args.eval_every_seconds is None:
        args.eval_every_seconds = args.budget_seconds / 10
    if not args.eval_every_seconds > 0:
        parser.error(f"--eval_every_seconds must be > 0, received {args.eval_every_seconds}")
    if args.num_levels is not None and not 2 <= args.num_levels <= 256:
        parser.error(f"--num_levels must be in [2, 256], received {args.num_levels}")
    if args.batch_size < 1:
        parser.error(f"--batch_size must be >= 1, received {args.batch_size}")
    _check_new_path(parser, "--plot", args.plot)
    _check_new_path(parser, "--json", args.json)
    _check_new_path(parser, "--samples", args.samples)
    if args.json and os.path.abspath(args.json) == os.path.abspath(args.plot):
        parser.error("--json and --plot must be different files")
    return args


def main(argv=None):
    import json

    args = parse_args(argv)
    import tensorflow as tf

    from pixel_keras import data

    # `training.evaluate` makes a new `tf.function` per call; its retracing
    # warnings are expected here.
    tf.get_logger().setLevel("ERROR")

    try:
        if args.dataset == digits_npz.NAME:
            dataset = digits_npz.load(num_levels=args.num_levels)
        else:
            dataset = data.load(
                args.dataset, data_dir=args.data_dir, num_levels=args.num_levels
            )
    except (ValueError, FileNotFoundError, RuntimeError) as e:
        sys.exit(f"--dataset {args.dataset!r}: {e}")
    _log(machine.machine_summary())
    _log(f"Load average at start: {os.getloadavg()}")
    _log(
        f"Dataset {dataset.name}: {dataset.image_shape}, {dataset.num_levels} levels, "
        f"{dataset.num_train_examples} train / {dataset.num_test_examples} test images. "
        f"Budget {args.budget_seconds:g} training seconds per model, test evaluation "
        f"every {args.eval_every_seconds:g} s (not counted), batch {args.batch_size}, "
        f"seed {args.seed}."
    )
    results = {}
    runs = [
        (name, policy)
        for name in args.models
        for policy in (["float32"] if name == "tfp" else args.dtype_policies)
    ]
    for name, policy in runs:
        gc.collect()
        # The 1-minute load average around each model's run: on a shared
        # machine the models may not train under the same load.
        load_start = os.getloadavg()[0]
        if name == "tfp":
            result, tracker = run_tfp(dataset, args, _log)
        else:
            result, tracker = run_ours(name, dataset, args, _log, policy)
        # A row per model, and per policy where several are compared.
        if policy != "float32":
            name = f"{name} ({policy})"
        bits = [point[2] for point in tracker.points]
        best = min(range(len(bits)), key=lambda i: bits[i] if math.isfinite(bits[i]) else math.inf)
        result.update(
            steps=tracker.steps,
            batch_size=args.batch_size,
            seconds=tracker.points[-1][0],
            eval_seconds=tracker.eval_seconds,
            points=tracker.points,
            final=bits[-1],
            best=bits[best],
            best_at=tracker.points[best][0],
            load=(load_start, os.getloadavg()[0]),
        )
        _log(
            f"  train {_fmt(result['train_bits_per_dim'])} bits/dim; "
            f"{tracker.eval_seconds:.1f} s evaluating (not counted)"
        )
        results[name] = result
    print_table(results, dataset)
    _log(f"\nLoad average at end: {os.getloadavg()}")

    series = [
        (
            f"{name} ({_fmt(r['final'], '.3f')})",
            [(t, b) for t, _, b in r["points"] if math.isfinite(b)],
        )
        for name, r in results.items()
    ]
    title = f"Test bits/dim on {os.path.basename(str(dataset.name))}, batch {args.batch_size}"
    figure = plot(
        series, title, "training wall-clock seconds", "test bits/dim", "model (final bits/dim)"
    )
    # The figure's format follows the file's extension (.svg, .png, .pdf).
    image = io.BytesIO()
    figure.savefig(image, format=os.path.splitext(args.plot)[1][1:] or "svg")
    pyplot.close(figure)
    _write_new_file(args.plot, image.getvalue(), "--plot")
    _log(f"Wrote {args.plot}")
    if args.samples:
        import numpy as np

        rows = np.concatenate([result.pop("samples") for result in results.values()])
        images_lib.write_png(
            args.samples,
            images_lib.image_grid(rows, dataset.num_levels, columns=_NUM_SAMPLES),
        )
        _log(f"Wrote {args.samples}: {_NUM_SAMPLES} samples per model, rows in order {list(results)}")
    if args.json:
        raw = {"args": vars(args), "machine": machine.machine_summary(), "models": results}
        _write_new_file(args.json, json.dumps(raw, indent=2) + "\n", "--json")
        _log(f"Wrote {args.json}")


if __name__ == "__main__":
    main()
