"""Benchmark: PixelSNAIL's cached sampler, its sampling against scoring
speed, and the memory and time of its train step.

Three tables, each printed with its ratios and the machine's load average
(1 minute, from `os.getloadavg()`, as `uptime` gives it) at the start and
the end of each row:

1. **Cached against naive sampling**, batch 1 (`--naive_batch_sizes`):
   `model.sample`'s default, the cached loop (XLA-compiled: each step runs
   every layer at the new position only, and each attention's query of the
   new position against a key/value cache that grows by one position per
   step), against `method="naive"`, the whole network once per pixel
   (PixelSNAIL draws a pixel's channels together from one mixture, so the
   naive loop runs once per pixel, not per sub-pixel). Every naive step is
   the same full pass, so its time is measured on a completion with only
   the last `--naive_pixels` pixels unknown (the naive loop starts at the
   first unknown pixel) and extrapolated linearly to the whole image
   (marked `~`). Where that estimate is under `--naive_budget` seconds, the
   whole naive sample takes its turns too, and its time is printed beside
   the estimate as a check of the extrapolation.
2. **Sampling against scoring**: images/s of the cached `sample` over
   images/s of `log_prob` (a traced `tf.function`) on the same model and
   batch, as `docs/gated_pixel_cnn.md` and `sampling.py` define it: 1
   would be sampling at the speed of one forward pass.
3. **The train step**: a fresh Python process per configuration
   (`--train_configs`) builds the model with its preset's dropout,
   compiles it bare (`model.compile()`: the family's recommended
   optimizer, Adam with EMA weights), and runs `train_on_batch` on one
   batch of random images (the cost does not depend on the pixels). It
   reports its resident memory after the imports and after building and
   compiling, its peak resident memory over building, compiling and the
   steps (the kernel's high-water mark, `VmHWM`, reset after the imports,
   whose own peak is higher than what they keep; `getrusage`'s
   `ru_maxrss` where it cannot be reset), and the median time of the
   steps after the first (which traces).

In tables 1 and 2 the sides being compared take turns, in alternating
order, `--repeats` times after a first call that traces them, and each
time is the best of those; memory there is the peak RSS of this process
during each call (`sampling.py`'s reset high-water mark).

The configurations: `tiny` is the `tiny` preset (8x8x1, 17 levels: 32
filters, 2 blocks of 1 gated resnet, one head, keys of 8, values of 16, 5
mixture components); `tiny-16x16x3` and `tiny-32x32x3` are the same
widths at 16x16x3 and 32x32x3 with 256 levels; `cifar10` is the `cifar10`
preset (12 blocks of 4 resnets, 256 filters, 91M weights). Dropout is off
for sampling (it never applies there) and the preset's in the train step.

Usage (from the repository root):

    python benchmarks/pixel_snail.py                  # every table
    python benchmarks/pixel_snail.py --sections sampling
    # The cifar10 preset (a naive pass takes seconds; tracing, minutes):
    python benchmarks/pixel_snail.py --sections sampling --configs cifar10 \\
        --naive_pixels 4 --repeats 1
    python benchmarks/pixel_snail.py --sections train_step --train_steps 3
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import machine  # noqa: E402
import sampling  # noqa: E402  (its timing and memory helpers)

# name -> (preset, constructor arguments that replace the preset's).
_COLOUR = {"num_levels": 256}
CONFIGS = {
    "tiny": ("tiny", {}),
    "tiny-16x16x3": ("tiny", {"image_shape": (16, 16, 3), **_COLOUR}),
    "tiny-32x32x3": ("tiny", {"image_shape": (32, 32, 3), **_COLOUR}),
    "cifar10": ("cifar10", {}),
}
SECTIONS = ("sampling", "train_step")


def build(name, dropout=None):
    """The model of configuration `name`, seeded with 0; `dropout` None
    keeps the preset's."""
    import keras

    from pixel_keras.models import PixelSNAIL

    preset, overrides = CONFIGS[name]
    overrides = dict(overrides)
    if dropout is not None:
        overrides["dropout"] = dropout
    keras.utils.set_random_seed(0)
    return PixelSNAIL.from_preset(preset, **overrides)


def _load():
    """The 1-minute load average."""
    return os.getloadavg()[0]


def _log(message):
    print(message, flush=True)


# --- Tables 1 and 2: sampling ----------------------------------------------------


def _random_images(model, batch):
    """`batch` images of random levels, float32."""
    return (
        np.random.default_rng(0)
        .integers(0, model.num_levels, (batch, *model.image_shape))
        .astype(np.float32)
    )


def _naive_tail(model, batch, pixels):
    """A naive completion of the last `pixels` pixels (a function of the
    seed): `pixels` passes of the whole network."""
    height, width, _ = model.image_shape
    images = np.zeros([batch, *model.image_shape], np.float32)
    known = np.ones([batch, height, width], bool)
    known.reshape(batch, -1)[:, height * width - pixels :] = False
    return lambda seed: model.complete(images, known, seed=seed, method="naive")


def _interleaved(sides, repeats):
    """`{name: (best seconds, largest peak RSS MiB)}` of `sides`, `{name:
    function of a seed}`, each already traced: `repeats` rounds in which
    every side runs once, in alternating order."""
    timings = {name: [] for name in sides}
    for round_ in range(repeats):
        order = list(sides) if round_ % 2 == 0 else list(reversed(sides))
        for name in order:
            timings[name].append(sampling._timed(lambda: sides[name](round_ + 1)))
    return {
        name: (min(s for s, _ in values), max(rss for _, rss in values))
        for name, values in timings.items()
    }


def measure_sampling(name, args):
    """Rows of tables 1 and 2 for configuration `name`."""
    import tensorflow as tf

    model = build(name, dropout=0.0)
    height, width, _ = model.image_shape
    total = height * width
    pixels = min(args.naive_pixels, total)
    rows = []
    for batch in args.batch_sizes:
        load_start = _load()
        images = _random_images(model, batch)
        log_prob = tf.function(model.log_prob)
        sides = {
            "log_prob": lambda seed: log_prob(images),
            "cached": lambda seed: model.sample(batch, seed=seed),
        }
        if batch in args.naive_batch_sizes:
            sides["naive"] = _naive_tail(model, batch, pixels)
        start = time.perf_counter()
        for side in sides.values():
            side(0).numpy()  # Traces (and compiles the cached loop).
        _log(f"{name} batch {batch}: traced in {time.perf_counter() - start:.1f} s")
        if "naive" in sides and pixels < total:
            tail_seconds, _ = sampling._timed(lambda: sides["naive"](0))
            if tail_seconds * total / pixels <= args.naive_budget:
                # The same traced loop, from the first pixel.
                sides["naive_whole"] = lambda seed: model.sample(
                    batch, seed=seed, method="naive"
                )
        best = _interleaved(sides, args.repeats)
        row = {
            "config": name,
            "params": model.count_params(),
            "batch": batch,
            "log_prob": best["log_prob"][0],
            "cached": best["cached"][0],
            "cached_rss": best["cached"][1],
        }
        _log(
            f"{name} batch {batch}: log_prob {row['log_prob']:.3f} s, "
            f"cached {row['cached']:.3f} s"
        )
        if "naive" in best:
            tail_seconds, row["naive_rss"] = best["naive"]
            row["naive_pixels"] = pixels
            row["naive_tail"] = tail_seconds
            row["naive"] = tail_seconds * total / pixels
            row["extrapolated"] = pixels < total
            _log(
                f"{name} batch {batch}: naive, last {pixels} pixels {tail_seconds:.2f} s "
                f"-> ~{row['naive']:.1f} s for {total} pixels"
            )
            if "naive_whole" in best:
                row["naive_whole"] = best["naive_whole"][0]
                _log(f"{name} batch {batch}: naive, whole sample {row['naive_whole']:.2f} s")
        row["load"] = (load_start, _load())
        rows.append(row)
    return rows


def print_sampling_tables(rows):
    naive_rows = [row for row in rows if "naive" in row]
    if naive_rows:
        _log("\nCached against naive sampling")
        _log(
            "| config | params | batch | cached s | naive s | cached / naive "
            "| naive s, whole sample | cached / naive, whole sample "
            "| peak RSS MiB (cached / naive) | load |"
        )
        _log("|---|---:|---:|---:|---:|---:|---:|---:|---|---|")
        for row in naive_rows:
            whole = whole_ratio = ""
            if "naive_whole" in row:
                whole = f"{row['naive_whole']:.3g}"
                whole_ratio = f"{row['naive_whole'] / row['cached']:.0f}x"
            mark = "~" if row["extrapolated"] else ""
            _log(
                f"| {row['config']} | {row['params']:,} | {row['batch']} "
                f"| {row['cached']:.3g} | {mark}{row['naive']:.3g} "
                f"| {mark}{row['naive'] / row['cached']:.0f}x | {whole} | {whole_ratio} "
                f"| {row['cached_rss']:.0f} / {row['naive_rss']:.0f} "
                f"| {row['load'][0]:.1f}-{row['load'][1]:.1f} |"
            )
        _log(
            "~: the naive loop timed over the last --naive_pixels pixels and "
            "extrapolated linearly to the whole image (every naive step is the "
            "same full pass); 'whole sample': the whole naive sample, timed "
            "(in the same turns) where the estimate was under --naive_budget, as "
            "a check of the extrapolation."
        )
    _log("\nSampling against scoring")
    _log(
        "| config | params | batch | log_prob img/s | cached img/s "
        "| sampling / scoring | s per cached batch | load |"
    )
    _log("|---|---:|---:|---:|---:|---:|---:|---|")
    for row in rows:
        batch = row["batch"]
        _log(
            f"| {row['config']} | {row['params']:,} | {batch} "
            f"| {batch / row['log_prob']:.3g} | {batch / row['cached']:.3g} "
            f"| {row['log_prob'] / row['cached']:.3f} | {row['cached']:.3g} "
            f"| {row['load'][0]:.1f}-{row['load'][1]:.1f} |"
        )
    _log(
        "sampling / scoring: cached sample img/s over log_prob img/s, same model "
        "and batch (1 would be sampling at the network's scoring speed); the "
        "cached loop is `model.sample`'s default (XLA-compiled)."
    )
    _log(
        "load: the 1-minute load average at the start and the end of the row's "
        "measurements."
    )


# --- Table 3: the train step, one process per configuration ----------------------


def train_step_child(name, batch, steps, budget):
    """Runs in its own process: builds, compiles and trains configuration
    `name`; prints one JSON line."""
    result = {"config": name, "load_start": _load()}
    import tensorflow as tf  # noqa: F401  (the runtime, in the baseline)

    import pixel_keras  # noqa: F401

    # Importing peaks above what the imports keep: the high-water mark is
    # reset after them, so that the peak is that of building and training.
    result["rss_imports"] = machine.proc_status_mib("VmRSS")
    result["hwm_reset"] = sampling._reset_peak_rss()
    model = build(name)
    model.compile()
    result["rss_built"] = machine.proc_status_mib("VmRSS")
    result["params"] = model.count_params()
    result["image_shape"] = list(model.image_shape)
    result["jit_compile"] = bool(model.jit_compile)
    images = _random_images(model, batch)
    seconds, losses = [], []
    start = time.perf_counter()
    for step in range(steps + 1):  # The first traces; it is not timed.
        step_start = time.perf_counter()
        losses.append(float(model.train_on_batch(images)))  # Waits for the step.
        seconds.append(time.perf_counter() - step_start)
        if step > 0 and time.perf_counter() - start > budget:
            break
    result.update(
        rss_peak=sampling._peak_rss_mib(),
        ru_maxrss=machine.maxrss_mib(),
        first_step=seconds[0],
        steps=seconds[1:],
        losses=losses,
        load_end=_load(),
    )
    print("RESULT " + json.dumps(result), flush=True)


def measure_train_step(name, args):
    command = [
        sys.executable,
        os.path.abspath(__file__),
        "--train_step_child",
        name,
        "--train_batch",
        str(args.train_batch),
        "--train_steps",
        str(args.train_steps),
        "--train_budget",
        str(args.train_budget),
    ]
    for flag in ("intra_op_threads", "inter_op_threads"):
        if getattr(args, flag) is not None:
            command += [f"--{flag}", str(getattr(args, flag))]
    completed = subprocess.run(command, capture_output=True, text=True)
    for line in completed.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    raise RuntimeError(
        f"The train-step process of {name!r} failed (exit {completed.returncode}):\n"
        + completed.stderr[-3000:]
    )


def print_train_step_table(results, batch):
    _log(f"\nThe train step at batch {batch} (a process per configuration)")
    _log(
        "| config | params | image | peak RSS MiB | RSS after imports | after build "
        "+ compile | peak over imports | step s (median) | images/s | steps timed "
        "| first step s | load |"
    )
    _log("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in results:
        step = statistics.median(r["steps"])
        shape = "x".join(str(d) for d in r["image_shape"])
        _log(
            f"| {r['config']} | {r['params']:,} | {shape} | {r['rss_peak']:.0f} "
            f"| {r['rss_imports']:.0f} | {r['rss_built']:.0f} "
            f"| {r['rss_peak'] - r['rss_imports']:.0f} | {step:.3g} | {batch / step:.3g} "
            f"| {len(r['steps'])} | {r['first_step']:.3g} "
            f"| {r['load_start']:.1f}-{r['load_end']:.1f} |"
        )
    reset = all(r["hwm_reset"] for r in results)
    _log(
        "peak RSS: the process's high-water mark over building, compiling and "
        "the steps (the first, tracing step included), "
        + (
            "reset after the imports (whose own peak is higher than what they keep); "
            if reset
            else "not resettable here: the process's ru_maxrss, imports included; "
        )
        + "peak over imports: peak RSS less the RSS after the imports. The first "
        "step traces and is not in the median. jit_compile of the train step: "
        f"{sorted({r['jit_compile'] for r in results})}."
    )


# --- Main ------------------------------------------------------------------------


def _sizes(parser, flag, value, allow_empty=True):
    try:
        sizes = [int(b) for b in value.split(",") if b]
    except ValueError:
        parser.error(f"--{flag} must be comma-separated ints. Received: {value!r}")
    if (not allow_empty and not sizes) or (sizes and min(sizes) < 1):
        parser.error(f"--{flag} must be positive ints. Received: {value!r}")
    return sizes


def _names(parser, flag, value):
    names = [n for n in value.split(",") if n]
    unknown = [n for n in names if n not in CONFIGS]
    if unknown:
        parser.error(f"--{flag}: unknown {unknown}; expected some of {sorted(CONFIGS)}")
    return names


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--sections", default=",".join(SECTIONS), help=f"some of {SECTIONS}")
    parser.add_argument(
        "--configs",
        default="tiny,tiny-16x16x3,tiny-32x32x3",
        help=f"configurations sampled (tables 1 and 2), some of {sorted(CONFIGS)}",
    )
    parser.add_argument("--batch_sizes", default="1,16", help="comma-separated")
    parser.add_argument(
        "--naive_batch_sizes",
        default="1",
        help="batch sizes at which the naive loop is timed too ('' for none)",
    )
    parser.add_argument(
        "--naive_pixels",
        type=int,
        default=32,
        help="pixels the naive loop is timed over, then extrapolated",
    )
    parser.add_argument(
        "--naive_budget",
        type=float,
        default=60.0,
        help="seconds under which the whole naive sample is timed as well",
    )
    parser.add_argument("--repeats", type=int, default=5, help="turns of each side")
    parser.add_argument(
        "--train_configs",
        default="tiny-32x32x3,cifar10",
        help="configurations whose train step is measured (table 3)",
    )
    parser.add_argument("--train_batch", type=int, default=16)
    parser.add_argument(
        "--train_steps", type=int, default=5, help="timed train steps (after the first)"
    )
    parser.add_argument(
        "--train_budget",
        type=float,
        default=300.0,
        help="seconds after which no further train step starts (at least one is timed)",
    )
    parser.add_argument("--train_step_child", default=None, help=argparse.SUPPRESS)
    machine.add_thread_arguments(parser)
    args = parser.parse_args(argv)
    machine.set_threads(parser, args)
    args.sections = [s for s in args.sections.split(",") if s]
    if not args.sections or any(s not in SECTIONS for s in args.sections):
        parser.error(f"--sections: expected some of {SECTIONS}, received {args.sections}")
    args.configs = _names(parser, "configs", args.configs)
    args.train_configs = _names(parser, "train_configs", args.train_configs)
    args.batch_sizes = _sizes(parser, "batch_sizes", args.batch_sizes, allow_empty=False)
    args.naive_batch_sizes = _sizes(parser, "naive_batch_sizes", args.naive_batch_sizes)
    for flag in ("naive_pixels", "repeats", "train_batch", "train_steps"):
        if getattr(args, flag) < 1:
            parser.error(f"--{flag} must be >= 1, received {getattr(args, flag)}")
    if args.train_step_child is not None and args.train_step_child not in CONFIGS:
        parser.error(f"--train_step_child: unknown {args.train_step_child!r}")
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.train_step_child is not None:
        train_step_child(
            args.train_step_child, args.train_batch, args.train_steps, args.train_budget
        )
        return
    _log(machine.machine_summary())
    _log(f"Load average at start: {os.getloadavg()}")
    if "sampling" in args.sections:
        if not sampling._reset_peak_rss():
            _log("(no /proc/self/clear_refs: peak RSS is the running maximum)")
        rows = []
        for name in args.configs:
            rows += measure_sampling(name, args)
        print_sampling_tables(rows)
        _log(f"Load average: {os.getloadavg()}")
    if "train_step" in args.sections:
        results = []
        for name in args.train_configs:
            _log(f"\nTrain step of {name}, batch {args.train_batch} (its own process) ...")
            results.append(measure_train_step(name, args))
            _log(json.dumps(results[-1]))
        print_train_step_table(results, args.train_batch)
    _log(f"\nLoad average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
