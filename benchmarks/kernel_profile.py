"""Benchmark: where a train step, a `log_prob` call or a cached sample spends
its time, kernel by kernel.

Traces a few calls with `tf.profiler` and prints, per kind of kernel, its
self thread time per call (time inside the kernel, not inside the kernels it
waits for) and how many run per call, largest first. For the uncompiled
train step and `log_prob` the kinds are TensorFlow's op types (oneDNN's
`_Mkl*` kernels, Eigen's elementwise ones); for the XLA-compiled sampling
loops they are XLA's thunks (matmuls, convolutions, loop fusions by their
kind, conditionals, and the thunk executor's own dispatch), counted per
pixel as well. Time on the Python thread (waiting for the results) is left
out, so the total is the thread time of the kernels, summed over TensorFlow's
threads: on 2 cores it can reach twice the wall time.

It is what BUILD.md's "Decisions" cite as `tf.profiler` traces. The trace
itself also opens in TensorBoard's Profile tab (`--logdir`).

Usage (from the repository root):

    python benchmarks/kernel_profile.py train
    python benchmarks/kernel_profile.py train --impl tfp
    python benchmarks/kernel_profile.py train --impl ours:mixed_bfloat16 \
        --config 32x32x3-r1-h3-f32-k5
    python benchmarks/kernel_profile.py sample --config 32x32x3 --batch_size 16
    python benchmarks/kernel_profile.py sample --config pixel_cnn-32x32x3 \
        --logdir /tmp/trace   # then: tensorboard --logdir /tmp/trace
"""

import argparse
import collections
import glob
import os
import re
import shutil
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import machine  # noqa: E402

TARGETS = ("train", "log_prob", "sample")
# The Python thread's events are the calls and their waits, not kernels.
_CALLER_LINE = "python"
# XLA's per-thunk completion markers ("end: MatMul_3.11").
_END_MARKER = "end: "
# The runtimes' own events: the work of dispatching kernels, and the
# intra-op pool's shares of a kernel's work.
_RUNTIME_KINDS = {
    "ExecutorState::Process": "TensorFlow executor (dispatch)",
    "ParallelFor": "intra-op pool shares (ParallelFor)",
    "ThunkExecutor::Execute": "XLA thunk executor (dispatch)",
}


def kernel_kind(name):
    """The kind a profiler event's name belongs to, or None for events that
    are calls rather than kernels (a `tf.function` call, XLA's whole
    executable).

    TensorFlow's kernels are named `op_name:OpType`; XLA's thunks by their
    HLO instruction (`MatMul_7.11`, `negate_concatenate_fusion.33`,
    `cond.365`), whose name comes from the TensorFlow op or, for a fusion,
    from the operations fused.
    """
    if name.startswith(_END_MARKER):
        return "XLA thunk completion"
    if ":" in name and "::" not in name:
        op_type = name.rsplit(":", 1)[1].strip()
        if op_type.startswith(("__inference", "__forward")):
            return None
        return op_type
    if name.startswith(("CpuExecutable", "BlockUntilReady", "Eager", "TFE_")):
        return None
    if name in _RUNTIME_KINDS:
        return _RUNTIME_KINDS[name]
    if "::" in name:
        return name
    base = re.sub(r"(\.\d+)+$", "", name)
    if "fusion" in base:
        fused = re.sub(r"_?fusion$", "", base)
        return f"XLA fusion: {fused}"
    if base.startswith("MatMul") or base.startswith("dot") or "BatchMatMul" in base:
        return "XLA matmul"
    if base.startswith(("Conv2D", "convolution", "conv")):
        return "XLA convolution"
    if base.startswith("cond") or base.startswith("conditional"):
        return "XLA conditional"
    if base.startswith("while"):
        return "XLA while"
    # XLA's lone ops: `wrapped_slice`, `concat_3`, `copy_12`.
    base = re.sub(r"_\d+$", "", re.sub(r"^wrapped_", "", base))
    return f"XLA {base}"


def self_times(events, inherited=("ParallelFor",)):
    """`[(name, self picoseconds)]` of `(name, offset_ps, duration_ps)`
    events of one thread, where an event's self time is its duration less
    that of the events nested in it.

    An event named in `inherited` that is nested in another (a kernel's
    share of its own work, run on the kernel's thread) stays part of that
    event and is not listed; alone on a thread it is listed.
    """
    events = sorted(events, key=lambda e: (e[1], -e[2]))
    own = [duration for _, _, duration in events]
    listed = [True] * len(events)
    stack = []  # Indices of the open events, innermost last.
    for index, (name, start, duration) in enumerate(events):
        while stack and events[stack[-1]][1] + events[stack[-1]][2] <= start:
            stack.pop()
        if stack and name in inherited:
            listed[index] = False
            continue
        if stack:
            own[stack[-1]] -= duration
        stack.append(index)
    return [
        (name, max(0, t))
        for (name, _, _), t, keep in zip(events, own, listed)
        if keep
    ]


def summarize(logdir):
    """`{kind: [self picoseconds, count]}` over the host threads of the
    trace under `logdir` (the caller's thread left out)."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    paths = glob.glob(os.path.join(logdir, "**", "*.xplane.pb"), recursive=True)
    if not paths:
        raise RuntimeError(f"No profiler trace (*.xplane.pb) under {logdir}")
    space = xplane_pb2.XSpace()
    with open(max(paths, key=os.path.getmtime), "rb") as f:
        space.ParseFromString(f.read())
    totals = collections.defaultdict(lambda: [0, 0])
    for plane in space.planes:
        if not plane.name.startswith("/host:"):
            continue
        names = {key: meta.name for key, meta in plane.event_metadata.items()}
        for line in plane.lines:
            if line.name == _CALLER_LINE:
                continue
            events = [(names[e.metadata_id], e.offset_ps, e.duration_ps) for e in line.events]
            for name, picoseconds in self_times(events):
                kind = kernel_kind(name)
                if kind is not None:
                    totals[kind][0] += picoseconds
                    totals[kind][1] += 1
    return totals


def _workload(args):
    """`(call, what it is, pixels per call or None)`: one call of the target,
    already traced and warmed up."""
    if args.target == "sample":
        import sampling

        kind, arguments = sampling.model_arguments(args.config)
        model = sampling.build_model(kind, arguments)
        height, width, _ = model.image_shape
        seeds = iter(range(1, 1_000_000))

        def call():
            return model.sample(args.batch_size, seed=next(seeds)).numpy()

        what = f"cached sample of {args.config}, batch {args.batch_size} (XLA-compiled loop)"
        pixels = height * width
    else:
        import vs_tfp

        config = vs_tfp.parse_config(args.config)
        bench = vs_tfp._Bench(args.impl, config)
        images = vs_tfp.make_images(config, args.batch_size)

        def call():
            return bench.run(args.target, images, 1)

        what = f"{args.target} of {args.config} ({args.impl}), batch {args.batch_size}"
        pixels = None
    for _ in range(args.warmup):
        call()
    return call, what, pixels


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("target", choices=TARGETS, help="what to profile")
    parser.add_argument(
        "--config",
        default=None,
        help="train/log_prob: a benchmarks/vs_tfp.py configuration "
        "(default 28x28x1-r1-h2-f32-k5); sample: a benchmarks/sampling.py one "
        "(default 32x32x3)",
    )
    parser.add_argument(
        "--impl",
        default="ours",
        help="train/log_prob: ours, ours:<dtype policy>[+xla] or tfp "
        "(benchmarks/vs_tfp.py's rows)",
    )
    parser.add_argument("--batch_size", type=int, default=16, help="images per call")
    parser.add_argument("--calls", type=int, default=3, help="calls traced")
    parser.add_argument("--warmup", type=int, default=2, help="untraced calls first (>= 1)")
    parser.add_argument("--top", type=int, default=30, help="kinds printed")
    parser.add_argument(
        "--logdir",
        default=None,
        help="keep the trace here (for TensorBoard); default: a temporary "
        "directory, removed",
    )
    machine.add_thread_arguments(parser)
    args = parser.parse_args(argv)
    machine.set_threads(parser, args)
    for name in ("batch_size", "calls", "warmup", "top"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be >= 1. Received: {getattr(args, name)}")
    if args.config is None:
        args.config = "32x32x3" if args.target == "sample" else "28x28x1-r1-h2-f32-k5"
    if args.target == "sample":
        import sampling

        if args.config not in sampling.CONFIGS:
            parser.error(
                f"--config for sample must be one of {sorted(sampling.CONFIGS)}. "
                f"Received: {args.config!r}"
            )
        if args.impl != "ours":
            parser.error(f"--impl applies to train and log_prob. Received: {args.impl!r}")
    else:
        import vs_tfp

        try:
            vs_tfp.parse_config(args.config)
            if args.impl != "tfp":
                if not args.impl.startswith("ours"):
                    raise ValueError(f"Expected ours[:<variant>] or tfp. Received: {args.impl!r}")
                vs_tfp.parse_variant(args.impl)
        except (ValueError, KeyError) as error:
            parser.error(str(error))
    return args


def main(argv=None):
    args = parse_args(argv)
    import tensorflow as tf

    print(machine.machine_summary(), flush=True)
    call, what, pixels = _workload(args)
    start = time.perf_counter()
    for _ in range(args.calls):
        call()
    seconds = (time.perf_counter() - start) / args.calls
    logdir = args.logdir or tempfile.mkdtemp(prefix="kernel_profile_")
    try:
        tf.profiler.experimental.start(logdir)
        for _ in range(args.calls):
            call()
        tf.profiler.experimental.stop()
        totals = summarize(logdir)
    finally:
        if args.logdir is None:
            shutil.rmtree(logdir, ignore_errors=True)
    total = sum(t for t, _ in totals.values())
    print(f"\n{what}: {seconds * 1e3:.1f} ms per call untraced (mean of {args.calls})")
    print(
        f"kernels' self thread time: {total / 1e9 / args.calls:.1f} ms per call, "
        f"over {len(totals)} kinds (the caller's thread left out)\n"
    )
    per_pixel = pixels is not None
    header = f"{'thread-ms/call':>14} {'share':>6} {'count/call':>11}"
    print(header + (f" {'count/pixel':>11}" if per_pixel else "") + "  kind")
    ranked = sorted(totals.items(), key=lambda item: -item[1][0])
    for kind, (picoseconds, count) in ranked[: args.top]:
        line = (
            f"{picoseconds / 1e9 / args.calls:14.2f} {picoseconds / max(total, 1):6.1%} "
            f"{count / args.calls:11.0f}"
        )
        if per_pixel:
            line += f" {count / args.calls / pixels:11.2f}"
        print(f"{line}  {kind}")
    if len(ranked) > args.top:
        rest = sum(t for _, (t, _) in ranked[args.top :])
        print(f"{rest / 1e9 / args.calls:14.2f} {rest / max(total, 1):6.1%}  ({len(ranked) - args.top} more kinds)")
    if args.logdir:
        print(f"\nTrace kept in {args.logdir} (tensorboard --logdir {args.logdir})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
