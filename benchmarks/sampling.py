"""Benchmark: cached against naive sampling, and `tfp.distributions.PixelCNN`.

For PixelCNN++ models of three sizes (the `tiny` and `mnist` presets, and a
32x32x3 model with the architecture of `vs_tfp.py`'s 32x32x3 configuration)
by default, or the PixelRNN paper's models (`--configs
pixel_cnn-28x28x1,row_lstm-32x32x3,...`) or the Gated PixelCNN
(`gated_pixel_cnn-28x28x1`, `gated_pixel_cnn-32x32x3`), at batch 1 and 16,
in one process,
it measures images per second of

* `model.sample(..., method="cached")`, the default;
* `model.sample(..., method="naive")`, the whole network once per pixel;
* `tfp.distributions.PixelCNN(...).sample(...)` with the same architecture
  (by default only at 32x32x3, the size the targets are stated for),
* `model.log_prob` (scoring: the physical limit of sampling speed), and a
  cached completion of the bottom half of each image (it starts at the
  first unknown row, so about half a sample),

and prints the ratios. Each run is timed after a first call that traces it.
The naive loop costs the same at every pixel (one pass of the whole
network), so where a full naive run would take longer than
`--naive_budget` seconds its time is extrapolated from a completion with
only the last `--naive_pixels` pixels unknown (the naive loop starts at the
first unknown pixel); the table marks such numbers with `~`.

Memory is the peak RSS of this process during each run: the kernel's
high-water mark is reset (`/proc/self/clear_refs`) before each run and read
(`VmHWM`) after it, so each number includes the runtime's baseline (printed
as well). Where the reset is not available, the numbers are the process's
running maximum.

Usage (from the repository root):

    python benchmarks/sampling.py
    python benchmarks/sampling.py --configs 32x32x3 --batch_sizes 16
    python benchmarks/sampling.py --tfp_configs tiny,32x32x3 --naive_budget 300
    python benchmarks/sampling.py --configs row_lstm-28x28x1,row_lstm-32x32x3 \
        --tfp_configs ""
    python benchmarks/sampling.py --configs gated_pixel_cnn-28x28x1,gated_pixel_cnn-32x32x3 \
        --tfp_configs "" --naive_batch_sizes 1 --plain_batch_sizes ""
    # Every family at batch 1, 16 and 256 (naive and TFP at 1 and 16 only):
    python benchmarks/sampling.py --batch_sizes 1,16,256 \
        --configs 32x32x3,pixel_cnn-32x32x3,row_lstm-32x32x3,diagonal_bilstm-32x32x3
"""

import argparse
import gc
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


import machine  # noqa: E402

# name -> (model, constructor arguments, or a preset name). Dropout is off
# (sampling never uses it) so that TFP's model is built the same way.
_RNN_32 = {
    "image_shape": (32, 32, 3),
    "num_levels": 256,
    "num_filters": 32,
    "num_layers": 7,
    "output_filters": 64,
}
CONFIGS = {
    "tiny": ("pixel_cnn_pp", "tiny"),
    "mnist": ("pixel_cnn_pp", "mnist"),
    "32x32x3": (
        "pixel_cnn_pp",
        {
            "image_shape": (32, 32, 3),
            "num_levels": 256,
            "num_filters": 32,
            "num_resnet": 1,
            "num_hierarchies": 3,
            "num_logistic_mix": 5,
        },
    ),
    # The PixelRNN paper's models: binarized MNIST (h = 16, 7 layers), and
    # 32x32x3 at 256 levels.
    **{
        f"{kind}-28x28x1": (kind, "binarized_mnist")
        for kind in ("pixel_cnn", "row_lstm", "diagonal_bilstm")
    },
    **{
        f"{kind}-32x32x3": (kind, _RNN_32)
        for kind in ("pixel_cnn", "row_lstm", "diagonal_bilstm")
    },
    # The Gated PixelCNN at the PixelRNN configurations' widths and depths,
    # with its 5 x 5 footprint (its `binarized_mnist` preset, p = 128, has
    # 6.3M weights: too slow to sample naively here).
    "gated_pixel_cnn-28x28x1": (
        "gated_pixel_cnn",
        {
            "image_shape": (28, 28, 1),
            "num_levels": 2,
            "num_filters": 16,
            "num_layers": 7,
            "kernel_size": 5,
            "output_filters": 32,
        },
    ),
    "gated_pixel_cnn-32x32x3": ("gated_pixel_cnn", {**_RNN_32, "kernel_size": 5}),
}


def model_arguments(name):
    """`(kind, constructor arguments)` of a configuration, presets resolved
    (dropout off: sampling never uses it, and TFP's model is built so)."""
    from pixel_keras.models import presets

    kind, arguments = CONFIGS[name]
    family = {
        "pixel_cnn_pp": "pixel_cnn_pp",
        "pixel_cnn": "pixel_cnn",
        "gated_pixel_cnn": "gated_pixel_cnn",
    }.get(kind, "pixel_rnn")
    if isinstance(arguments, str):
        arguments = presets.preset_config(family, arguments)
    arguments = dict(arguments)
    if kind == "pixel_cnn_pp":
        arguments["dropout"] = 0.0
    return kind, arguments


def build_model(kind, arguments):
    """A model of `kind` (`"pixel_cnn_pp"`, `"pixel_cnn"`, `"gated_pixel_cnn"`
    or a PixelRNN kind) from explicit constructor arguments, after seeding
    Keras with 0."""
    import keras

    from pixel_keras.models import GatedPixelCNN
    from pixel_keras.models import PixelCNN
    from pixel_keras.models import PixelCNNPlusPlus
    from pixel_keras.models import PixelRNN

    keras.utils.set_random_seed(0)
    if kind == "pixel_cnn_pp":
        return PixelCNNPlusPlus(**arguments)
    if kind == "pixel_cnn":
        return PixelCNN(**arguments)
    if kind == "gated_pixel_cnn":
        return GatedPixelCNN(**arguments)
    return PixelRNN(kind=kind, **arguments)


def _build(name):
    """The model of a configuration, and its constructor arguments."""
    kind, arguments = model_arguments(name)
    return build_model(kind, arguments), arguments


# --- Memory ------------------------------------------------------------------------


def _reset_peak_rss():
    """Resets the kernel's RSS high-water mark; False where it can't."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _peak_rss_mib():
    return machine.proc_status_mib("VmHWM") or machine.maxrss_mib()


# --- Timing ------------------------------------------------------------------------


def _timed(fn):
    """Seconds and peak RSS (MiB) of one call, with the collector off."""
    gc.collect()
    gc.disable()
    _reset_peak_rss()
    try:
        start = time.perf_counter()
        result = fn()
        if hasattr(result, "numpy"):
            result.numpy()
        seconds = time.perf_counter() - start
    finally:
        gc.enable()
    return seconds, _peak_rss_mib()


def _time_cached(model, batch, jit_compile=None, repeats=3):
    """Seconds of one cached sample of `batch` images (the best of
    `repeats`, as `log_prob`'s, so that their ratio compares like with like)
    and the largest peak RSS (MiB)."""
    model.sample(batch, seed=0, jit_compile=jit_compile)  # Traces (compiles).
    timings = [
        _timed(lambda: model.sample(batch, seed=seed, jit_compile=jit_compile))
        for seed in range(1, repeats + 1)
    ]
    return min(seconds for seconds, _ in timings), max(rss for _, rss in timings)


def _time_completion(model, batch):
    """Seconds of one cached completion of the bottom half of `batch`
    images (the top half known; the best of two): the loop starts at the
    first unknown row, so this should cost about half a sample."""
    import numpy as np

    height, width, _ = model.image_shape
    images = np.random.default_rng(0).integers(
        0, model.num_levels, (batch, *model.image_shape)
    ).astype(np.float32)
    known = np.zeros([batch, height, width], bool)
    known[:, : height // 2] = True
    model.complete(images, known, seed=0)  # Traces (compiles).
    return min(_timed(lambda: model.complete(images, known, seed=seed))[0] for seed in (1, 2))


def _time_log_prob(model, batch, repeats=3):
    """Seconds of one `log_prob` over `batch` images (traced, the best of
    `repeats`): scoring, the physical limit of sampling speed."""
    import numpy as np
    import tensorflow as tf

    images = np.random.default_rng(0).integers(
        0, model.num_levels, (batch, *model.image_shape)
    ).astype(np.float32)
    log_prob = tf.function(model.log_prob)
    log_prob(images).numpy()  # Traces.
    return min(_timed(lambda: log_prob(images))[0] for _ in range(repeats))


def _time_naive(model, batch, budget, pixels):
    """Seconds for a whole naive sample (measured, or extrapolated from the
    last `pixels` pixels), peak RSS, and whether it was extrapolated."""
    import numpy as np

    height, width, _ = model.image_shape
    total = height * width
    pixels = min(pixels, total)
    images = np.zeros([batch, *model.image_shape], np.float32)
    known = np.ones([batch, height, width], bool)
    known.reshape(batch, -1)[:, total - pixels :] = False

    def partial():
        return model.complete(images, known, seed=1, method="naive")

    model.complete(images, known, seed=0, method="naive")  # Traces.
    seconds, peak = _timed(partial)
    estimate = seconds * total / pixels
    if estimate <= budget and pixels < total:
        seconds, peak = _timed(lambda: model.sample(batch, seed=1, method="naive"))
        return seconds, peak, False
    return estimate, peak, pixels < total


def _tfp_distribution(arguments):
    import tensorflow_probability as tfp
    import tf_keras

    tf_keras.utils.set_random_seed(0)
    return tfp.distributions.PixelCNN(
        image_shape=arguments["image_shape"],
        conditional_shape=None,
        num_resnet=arguments["num_resnet"],
        num_hierarchies=arguments["num_hierarchies"],
        num_filters=arguments["num_filters"],
        num_logistic_mix=arguments["num_logistic_mix"],
        dropout_p=0.0,
        use_weight_norm=False,
        high=arguments["num_levels"] - 1,
        low=0,
    )


def _time_tfp(arguments, batch):
    import tensorflow as tf

    distribution = _tfp_distribution(arguments)
    # TFP's sampler takes a Python seed in a traced function. Tracing runs
    # nothing, so it is done first and excluded from the time.
    sample = tf.function(lambda: distribution.sample(batch, seed=1))
    sample.get_concrete_function()
    return _timed(sample)


# --- Main ------------------------------------------------------------------------


def _log(message):
    print(message, flush=True)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--configs", default="tiny,mnist,32x32x3", help=f"some of {sorted(CONFIGS)}"
    )
    parser.add_argument("--batch_sizes", default="1,16", help="comma-separated")
    parser.add_argument(
        "--tfp_configs",
        default="32x32x3",
        help="configurations at which TFP's sampler is timed too ('' for none)",
    )
    parser.add_argument(
        "--naive_batch_sizes",
        default="1,16",
        help="batch sizes at which the naive loop is timed too",
    )
    parser.add_argument(
        "--tfp_batch_sizes",
        default="1,16",
        help="batch sizes at which TFP's sampler is timed too",
    )
    parser.add_argument(
        "--plain_batch_sizes",
        default="1,16",
        help="batch sizes at which the cached loop is timed without XLA too",
    )
    parser.add_argument(
        "--naive_budget",
        type=float,
        default=120.0,
        help="seconds above which a naive run is extrapolated, not run whole",
    )
    parser.add_argument(
        "--naive_pixels",
        type=int,
        default=32,
        help="pixels a naive run is timed over when it is extrapolated",
    )
    machine.add_thread_arguments(parser)
    args = parser.parse_args(argv)
    machine.set_threads(parser, args)
    args.configs = [c for c in args.configs.split(",") if c]
    args.tfp_configs = [c for c in args.tfp_configs.split(",") if c]
    for name in args.configs + args.tfp_configs:
        if name not in CONFIGS:
            parser.error(f"Unknown configuration {name!r}; expected one of {sorted(CONFIGS)}")
    for name in args.tfp_configs:
        if CONFIGS[name][0] != "pixel_cnn_pp":
            parser.error(f"--tfp_configs: {name!r} is not a PixelCNN++ configuration")
    for flag in ("batch_sizes", "naive_batch_sizes", "tfp_batch_sizes", "plain_batch_sizes"):
        value = getattr(args, flag)
        try:
            sizes = [int(b) for b in value.split(",") if b]
        except ValueError:
            parser.error(f"--{flag} must be comma-separated ints. Received: {value!r}")
        if (flag == "batch_sizes" and not sizes) or (sizes and min(sizes) < 1):
            parser.error(f"--{flag} must be positive ints. Received: {value!r}")
        setattr(args, flag, sizes)
    if args.naive_pixels < 1:
        parser.error("--naive_pixels must be >= 1")
    return args


def main(argv=None):
    args = parse_args(argv)
    _log(machine.machine_summary())
    _reset_peak_rss()
    _log(f"RSS after imports: {machine.proc_status_mib('VmRSS') or 0:.0f} MiB")
    if not _reset_peak_rss():
        _log("(no /proc/self/clear_refs: peak RSS is the running maximum)")
    rows = []
    for name in args.configs:
        model, arguments = _build(name)
        for batch in args.batch_sizes:
            row = {"config": name, "batch": batch}
            row["log_prob"] = _time_log_prob(model, batch)
            row["cached"], row["cached_rss"] = _time_cached(model, batch)
            _log(
                f"{name} batch {batch}: log_prob {row['log_prob']:.3f} s, "
                f"cached {row['cached']:.2f} s"
            )
            row["complete"] = _time_completion(model, batch)
            _log(f"{name} batch {batch}: cached completion of the bottom half "
                 f"{row['complete']:.2f} s")
            if model.cached_loop_compiles and batch in args.plain_batch_sizes:
                row["plain"], _ = _time_cached(model, batch, jit_compile=False)
                _log(f"{name} batch {batch}: cached without XLA {row['plain']:.2f} s")
            if batch in args.naive_batch_sizes:
                row["naive"], row["naive_rss"], row["extrapolated"] = _time_naive(
                    model, batch, args.naive_budget, args.naive_pixels
                )
                _log(
                    f"{name} batch {batch}: naive {row['naive']:.1f} s"
                    + (" (extrapolated)" if row["extrapolated"] else "")
                )
            if name in args.tfp_configs and batch in args.tfp_batch_sizes:
                row["tfp"], row["tfp_rss"] = _time_tfp(arguments, batch)
                _log(f"{name} batch {batch}: tfp {row['tfp']:.1f} s")
            rows.append(row)

    _log("")
    _log(
        "| model | batch | log_prob img/s | cached img/s | sampling / scoring "
        "| s per batch | bottom-half completion / sample "
        "| cached without XLA img/s | naive img/s | cached / naive "
        "| TFP img/s | cached / TFP | peak RSS MiB (cached / naive / TFP) |"
    )
    _log("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for row in rows:
        batch = row["batch"]
        plain = f"{batch / row['plain']:.3g}" if "plain" in row else ""
        naive_rate = naive_ratio = naive_rss = ""
        if "naive" in row:
            mark = "~" if row["extrapolated"] else ""
            naive_rate = f"{mark}{batch / row['naive']:.3g}"
            naive_ratio = f"{mark}{row['naive'] / row['cached']:.0f}x"
            naive_rss = f" / {row['naive_rss']:.0f}"
        tfp_rate = tfp_ratio = tfp_rss = ""
        if "tfp" in row:
            tfp_rate = f"{batch / row['tfp']:.3g}"
            tfp_ratio = f"{row['tfp'] / row['cached']:.0f}x"
            tfp_rss = f" / {row['tfp_rss']:.0f}"
        _log(
            f"| {row['config']} | {batch} "
            f"| {batch / row['log_prob']:.3g} | {batch / row['cached']:.3g} "
            f"| {row['log_prob'] / row['cached']:.3f} | {row['cached']:.3g} "
            f"| {row['complete'] / row['cached']:.2f} | {plain} "
            f"| {naive_rate} | {naive_ratio} "
            f"| {tfp_rate} | {tfp_ratio} "
            f"| {row['cached_rss']:.0f}{naive_rss}{tfp_rss} |"
        )
    _log("~: naive time extrapolated from the last --naive_pixels pixels.")
    _log(
        "Empty cells: not measured at that batch (--naive_batch_sizes, "
        "--tfp_batch_sizes, --plain_batch_sizes)."
    )
    _log(
        "sampling / scoring: cached sample img/s over log_prob img/s, same model "
        "and batch (1 would be sampling at the network's scoring speed). The "
        "cached column is `model.sample`'s default: XLA-compiled (every "
        "family's loop compiles); the export's loop is the plain one."
    )


if __name__ == "__main__":
    main()
