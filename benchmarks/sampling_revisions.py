"""Benchmark: sampling / scoring of this checkout against an earlier revision.

For the PixelRNN paper's models (by default; any configuration of
`sampling.py` with `--configs`), at each batch size, it times cached
`model.sample(batch, seed=...)` and `model.log_prob` (in a `tf.function`),
each the best of `--repeats` calls after one that traces, in this checkout
and in a git revision (checked out into a temporary worktree). Each side
runs in its own process, one after the other, with its own `pixel_keras`
first on `sys.path`. It prints both sides and the ratios: how much faster
sampling got, and how much nearer scoring speed (sampling / scoring, new
over old). Timings drift between processes on a shared machine; the
sampling / scoring ratio, measured within each process, drifts less.

Only `sample(num, seed=...)` and `log_prob(images)` are called, on models
built from explicit constructor arguments, so any revision that has those
runs.

Usage (from the repository root):

    python benchmarks/sampling_revisions.py --revision aacf54d
    python benchmarks/sampling_revisions.py --revision aacf54d \
        --configs row_lstm-32x32x3 --batch_sizes 16
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import sampling  # noqa: E402  (benchmarks/sampling.py: its configurations)

_REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_CHILD_TAG = "SAMPLING_REVISIONS_JSON "

# The configurations of `sampling.py`; the PixelRNN paper's models by default.
DEFAULT_CONFIGS = [
    f"{kind}-{size}"
    for size in ("28x28x1", "32x32x3")
    for kind in ("pixel_cnn", "row_lstm", "diagonal_bilstm")
]


def _best(function, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def child_main(args):
    """Times one side; prints one JSON line per (configuration, batch)."""
    import numpy as np
    import tensorflow as tf

    import pixel_keras

    # The revision's package, not an installed one.
    if not os.path.abspath(pixel_keras.__file__).startswith(os.path.abspath(args.root)):
        raise SystemExit(
            f"Expected pixel_keras from {args.root}. Received: {pixel_keras.__file__}"
        )
    for name, (kind, arguments) in json.loads(args.specs).items():
        arguments["image_shape"] = tuple(arguments["image_shape"])
        model = sampling.build_model(kind, arguments)
        height, width, channels = arguments["image_shape"]
        levels = arguments["num_levels"]
        for batch in args.batch_sizes:
            images = np.random.default_rng(0).integers(0, levels, (batch, height, width, channels))
            images = tf.constant(images.astype("float32"))
            log_prob = tf.function(model.log_prob)
            log_prob(images).numpy()
            model.sample(batch, seed=0).numpy()
            seeds = iter(range(1, 1 + args.repeats))
            sample_s = _best(lambda: model.sample(batch, seed=next(seeds)).numpy(), args.repeats)
            log_prob_s = _best(lambda: log_prob(images).numpy(), args.repeats)
            row = {"config": name, "batch": batch, "sample_s": sample_s, "log_prob_s": log_prob_s}
            print(_CHILD_TAG + json.dumps(row), flush=True)


def _run_side(root, specs, args):
    command = [sys.executable, os.path.abspath(__file__), "--_child", root]
    command += ["--_specs", json.dumps(specs)]
    command += ["--batch_sizes", ",".join(str(b) for b in args.batch_sizes)]
    command += ["--repeats", str(args.repeats)]
    environment = dict(os.environ)
    environment["PYTHONPATH"] = os.pathsep.join(
        [root] + [p for p in environment.get("PYTHONPATH", "").split(os.pathsep) if p]
    )
    print(f"Timing {root} ...", file=sys.stderr, flush=True)
    output = subprocess.run(
        command, env=environment, stdout=subprocess.PIPE, check=True, text=True
    ).stdout
    lines = [line for line in output.splitlines() if line.startswith(_CHILD_TAG)]
    rows = [json.loads(line[len(_CHILD_TAG) :]) for line in lines]
    return {(row["config"], row["batch"]): row for row in rows}


def print_table(old, new, revision):
    print(
        f"| model | batch | {revision} sample img/s | now sample img/s "
        f"| sampling speed-up | {revision} sampling / scoring "
        f"| now sampling / scoring | sampling / scoring, now / {revision} |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for key, after in new.items():
        before = old[key]
        name, batch = key
        ratio_before = before["log_prob_s"] / before["sample_s"]
        ratio_after = after["log_prob_s"] / after["sample_s"]
        speed_up = before["sample_s"] / after["sample_s"]
        print(
            f"| {name} | {batch} | {batch / before['sample_s']:.3g} "
            f"| {batch / after['sample_s']:.3g} | {speed_up:.2f}x | {ratio_before:.3f} "
            f"| {ratio_after:.3f} | {ratio_after / ratio_before:.1f}x |"
        )


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--revision", help="the git revision to compare against")
    parser.add_argument(
        "--configs",
        default=",".join(DEFAULT_CONFIGS),
        help=f"some of {sorted(sampling.CONFIGS)}",
    )
    parser.add_argument("--batch_sizes", default="1,16", help="comma-separated")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls; the best counts")
    parser.add_argument("--_child", metavar="ROOT", dest="root", help=argparse.SUPPRESS)
    parser.add_argument("--_specs", dest="specs", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.configs = [c for c in args.configs.split(",") if c]
    for name in args.configs:
        if name not in sampling.CONFIGS:
            parser.error(
                f"Unknown configuration {name!r}; expected one of {sorted(sampling.CONFIGS)}"
            )
    try:
        args.batch_sizes = [int(b) for b in args.batch_sizes.split(",") if b]
    except ValueError:
        parser.error(f"--batch_sizes must be comma-separated ints. Received: {args.batch_sizes!r}")
    if not args.batch_sizes or min(args.batch_sizes) < 1:
        parser.error(f"--batch_sizes must be positive. Received: {args.batch_sizes}")
    if args.repeats < 1:
        parser.error(f"--repeats must be >= 1. Received: {args.repeats}")
    if args.root is None and not args.revision:
        parser.error("--revision is required (a commit, tag or branch of this repository)")
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.root is not None:
        child_main(args)
        return
    import machine

    print(machine.machine_summary())
    # Resolved here, with this checkout's presets: each side builds the
    # models from explicit constructor arguments.
    specs = {name: sampling.model_arguments(name) for name in args.configs}
    with tempfile.TemporaryDirectory() as directory:
        worktree = os.path.join(directory, "revision")
        subprocess.run(
            ["git", "-C", _REPOSITORY, "worktree", "add", "--detach", "-q", worktree]
            + [args.revision],
            check=True,
        )
        try:
            old = _run_side(worktree, specs, args)
        finally:
            subprocess.run(["git", "-C", _REPOSITORY, "worktree", "remove", "--force", worktree])
    new = _run_side(_REPOSITORY, specs, args)
    print(
        f"\n`python benchmarks/sampling_revisions.py --revision {args.revision}`, "
        "each side in its own process, best of "
        f"{args.repeats}:\n"
    )
    print_table(old, new, args.revision)


if __name__ == "__main__":
    main()
