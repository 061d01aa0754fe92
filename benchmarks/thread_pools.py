"""Benchmark: sampling and scoring under each thread-pool setting, on this machine.

TensorFlow fixes its thread pools when it starts, and XLA reads `XLA_FLAGS`
at its first compilation, so each setting needs its own process: this runs
`sampling.py` (cached `sample` and `log_prob`, same model and batch) once
per setting and round, the settings alternating, and prints each setting's
median images per second and its speed against TensorFlow's defaults. The
settings (README, "Thread pools"):

* `default`: TensorFlow's pools (about one thread per core each);
* `xla_single_thread`: `XLA_FLAGS=--xla_cpu_multi_thread_eigen=false`, XLA's
  matmuls on one thread, TensorFlow's own ops unchanged;
* `intra_op_1`: a 1-thread intra-op pool (`main.py --intra_op_threads=1`);
* `intra_op_1_inter_op_2`: that, with two inter-op threads.

Usage (from the repository root):

    python benchmarks/thread_pools.py
    python benchmarks/thread_pools.py --configs pixel_cnn-32x32x3 --batch_sizes 1,16 \
        --rounds 3
"""

import argparse
import os
import statistics
import subprocess
import sys

_SAMPLING = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sampling.py")

# name -> (extra environment, extra sampling.py flags)
SETTINGS = {
    "default": ({}, []),
    "xla_single_thread": ({"XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false"}, []),
    "intra_op_1": ({}, ["--intra_op_threads=1"]),
    "intra_op_1_inter_op_2": ({}, ["--intra_op_threads=1", "--inter_op_threads=2"]),
}


def _log(message):
    print(message, flush=True)


def run_setting(name, args):
    """One `sampling.py` process under setting `name`: `{(config, batch):
    (log_prob img/s, cached img/s)}` from its table, and its machine line."""
    extra_env, extra_flags = SETTINGS[name]
    env = dict(os.environ, **extra_env)
    if "XLA_FLAGS" in os.environ and "XLA_FLAGS" in extra_env:
        env["XLA_FLAGS"] = os.environ["XLA_FLAGS"] + " " + extra_env["XLA_FLAGS"]
    command = [
        sys.executable,
        _SAMPLING,
        f"--configs={args.configs}",
        f"--batch_sizes={args.batch_sizes}",
        "--tfp_configs=",
        "--naive_batch_sizes=",
        "--plain_batch_sizes=",
        *extra_flags,
    ]
    process = subprocess.run(command, env=env, capture_output=True, text=True)
    if process.returncode != 0:
        tail = "\n".join((process.stderr or process.stdout).strip().splitlines()[-5:])
        raise RuntimeError(f"sampling.py under {name!r} failed:\n{tail}")
    rows, machine = {}, ""
    for line in process.stdout.splitlines():
        if line.startswith("Machine:"):
            machine = line
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        # The result rows: | config | batch | log_prob img/s | cached img/s | ...
        if line.startswith("| ") and len(cells) > 4 and cells[1].isdigit():
            rows[(cells[0], int(cells[1]))] = (float(cells[2]), float(cells[3]))
    if not rows:
        raise RuntimeError(f"sampling.py under {name!r} printed no results")
    return rows, machine


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--configs",
        default="32x32x3,pixel_cnn-32x32x3",
        help="comma-separated configurations of sampling.py",
    )
    parser.add_argument("--batch_sizes", default="16", help="comma-separated")
    parser.add_argument(
        "--settings",
        default=",".join(SETTINGS),
        help=f"comma-separated, out of {', '.join(SETTINGS)}",
    )
    parser.add_argument(
        "--rounds", type=int, default=2, help="processes per setting, alternating"
    )
    args = parser.parse_args(argv)
    args.settings = [s for s in args.settings.split(",") if s]
    unknown = [s for s in args.settings if s not in SETTINGS]
    if unknown or not args.settings:
        parser.error(
            f"--settings must name some of {', '.join(SETTINGS)}. Received: {unknown}"
        )
    if args.rounds < 1:
        parser.error(f"--rounds must be >= 1. Received: {args.rounds}")
    return args


def main(argv=None):
    args = parse_args(argv)
    results = {name: [] for name in args.settings}
    machine = ""
    for round_index in range(args.rounds):
        for name in args.settings:
            _log(f"round {round_index + 1}/{args.rounds}: {name}")
            rows, machine = run_setting(name, args)
            results[name].append(rows)
    _log(machine)
    _log(
        f"Median of {args.rounds} processes per setting (sampling.py: cached "
        "`sample` and `log_prob`, XLA as `model.sample` compiles it):"
    )
    _log(
        "| setting | config | batch | log_prob img/s | cached img/s "
        "| sampling / scoring | cached vs default | log_prob vs default |"
    )
    _log("|---|---|---:|---:|---:|---:|---:|---:|")
    medians = {
        name: {
            key: tuple(statistics.median(run[key][i] for run in runs) for i in (0, 1))
            for key in runs[0]
        }
        for name, runs in results.items()
    }
    base = medians.get("default")
    for name, rows in medians.items():
        for (config, batch), (log_prob, cached) in rows.items():
            versus = ("", "")
            if base is not None:
                base_log_prob, base_cached = base[(config, batch)]
                versus = (f"{cached / base_cached:.2f}x", f"{log_prob / base_log_prob:.2f}x")
            _log(
                f"| {name} | {config} | {batch} | {log_prob:.3g} | {cached:.3g} "
                f"| {cached / log_prob:.3f} | {versus[0]} | {versus[1]} |"
            )


if __name__ == "__main__":
    main()
