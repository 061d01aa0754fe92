"""Benchmark: pixel_keras' PixelCNN++ against `tfp.distributions.PixelCNN`.

For every configuration (image shape and architecture) it builds both models
with the same architecture (num_resnet, num_hierarchies, num_filters,
num_logistic_mix, no dropout) and measures, on the CPU or accelerator TF
picks:

* training throughput (images/s) of a full train step -- forward, NLL,
  backward and an Adam update -- as a `tf.function` (no XLA) around a
  `tf.GradientTape`, after warm-up steps so that tracing is excluded; the
  median over several timed repeats, with the repeats of the two
  implementations interleaved (in alternating order) so that a slow spell
  of the machine hits both;
* `log_prob` throughput (images/s) of a `tf.function`-compiled `log_prob` over
  one batch, measured the same way;
* peak memory: the peak RSS (`ru_maxrss`) of a fresh subprocess that imports
  the same modules, builds one implementation for one configuration and runs
  its train and `log_prob` steps (the script re-invokes itself with
  `--_child`; the child prints one JSON line).

Both sides are trained the same way: `loss = -mean(log_prob(images))` in
nats, the gradient over the model's trainable variables, and Adam(1e-3):
pixel_keras' `FusedAdam` for ours (Keras 3's Adam with TensorFlow's fused
kernel, what `training.make_optimizer` gives), `tf_keras.optimizers.Adam` for
TFP's network (it is a `tf_keras` layer; that optimizer also applies the
kernel masks of its convolutions, which TFP's causality relies on). The two
frameworks' objects are never mixed.

Differences that remain between the two models (they are part of what is
measured): TFP implements the causal convolutions as full 3x3 (and 5x3,
4x3, ...) kernels multiplied by a mask, so it stores (and computes with)
more weights than our shifted 2x3 / 2x2 convolutions with the same
receptive field; TFP's default weight normalization is turned off (our model
has none), unless `--tfp_weight_norm`; our first layer sees one extra input
channel (a channel of ones).

Besides pixel_keras in float32 (`ours`), every `--variants` entry adds a
row of ours in another Keras dtype policy and/or with the train step
compiled by XLA (`mixed_bfloat16`, `float32+xla`, ...), each against TFP's
float32, which is what a TFP user gets. bfloat16 pays where the hardware
has it (AMX on Xeons, tensor cores on GPUs); `python benchmarks/machine.py`
says which instruction sets this CPU has.

Usage (from the repository root):

    python benchmarks/vs_tfp.py
    python benchmarks/vs_tfp.py --batch_size 32 --steps 5 --repeats 7
    python benchmarks/vs_tfp.py --configs 32x32x3 --breakdown
    python benchmarks/vs_tfp.py --configs 16x16x3-r2-h2-f64-k10 --skip_memory
    python benchmarks/vs_tfp.py --skip_memory --variants mixed_bfloat16,float32+xla

A configuration is `HxWxC-rR-hN-fF-kK` (resnet blocks, hierarchies, filters,
logistic mixtures); a prefix of one of the default configurations (e.g.
`28x28x1`) selects it.
"""

import argparse
import gc
import json
import math
import os
import re
import statistics
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from machine import add_thread_arguments  # noqa: E402
from machine import machine_summary  # noqa: E402
from machine import maxrss_mib  # noqa: E402
from machine import proc_status_mib  # noqa: E402
from machine import set_threads  # noqa: E402

DEFAULT_CONFIGS = ("28x28x1-r1-h2-f32-k5", "32x32x3-r1-h3-f32-k5")
# The two sides of the memory measurement and of every table; `--variants`
# adds "ours:<policy>[+xla]" entries.
IMPLEMENTATIONS = ("ours", "tfp")
DEFAULT_VARIANTS = "mixed_bfloat16"
_CHILD_TAG = "VS_TFP_JSON "
_CONFIG_RE = re.compile(
    r"^(\d+)x(\d+)x(\d+)-r(\d+)-h(\d+)-f(\d+)-k(\d+)$"
)


# --- Configurations ------------------------------------------------------------


def parse_config(spec):
    """`HxWxC-rR-hN-fF-kK` (or a prefix of a default) -> dict."""
    spec = spec.strip()
    match = _CONFIG_RE.match(spec)
    if match is None:
        candidates = [c for c in DEFAULT_CONFIGS if c.startswith(spec)]
        if len(candidates) != 1:
            raise ValueError(
                f"Bad configuration {spec!r}: expected HxWxC-rR-hN-fF-kK "
                f"(e.g. {DEFAULT_CONFIGS[0]}) or a prefix of one of "
                f"{', '.join(DEFAULT_CONFIGS)}."
            )
        spec = candidates[0]
        match = _CONFIG_RE.match(spec)
    h, w, c, r, n, f, k = (int(g) for g in match.groups())
    return {
        "name": spec,
        "image_shape": (h, w, c),
        "num_resnet": r,
        "num_hierarchies": n,
        "num_filters": f,
        "num_logistic_mix": k,
    }


# --- The two implementations ---------------------------------------------------


class _Bench:
    """One implementation for one configuration: compiled step functions."""

    def __init__(self, impl, config, tfp_weight_norm=False, seed=0):
        import tensorflow as tf

        self.impl = impl
        self.config = config
        h, w, c = config["image_shape"]
        dtype_policy, jit_compile = parse_variant(impl)
        if impl.startswith("ours"):
            import keras

            from pixel_keras.models import PixelCNNPlusPlus

            keras.utils.set_random_seed(seed)
            model = PixelCNNPlusPlus(
                image_shape=(h, w, c),
                num_levels=256,
                num_filters=config["num_filters"],
                num_resnet=config["num_resnet"],
                num_hierarchies=config["num_hierarchies"],
                num_logistic_mix=config["num_logistic_mix"],
                dropout=0.0,
                dtype=dtype_policy,
            )
            self.variables = list(model.trainable_variables)
            # pixel_keras' Adam (`training.make_optimizer`'s): Keras' Adam
            # with TensorFlow's fused kernel per variable, as tf_keras' Adam
            # on TFP's side.
            from pixel_keras.training import FusedAdam

            optimizer = FusedAdam(1e-3)
            optimizer.build(self.variables)

            def log_prob(images, training):
                if jit_compile:
                    # XLA has no Assert, so the step skips the pixel-value
                    # check (as `compute_loss` under XLA replaces it).
                    return model._distribution(images, None, training).log_prob(images)
                return model.distribution(images, training=training).log_prob(images)

            def eval_log_prob(images):
                return model.log_prob(images)

            self.masked_params = None
        elif impl == "tfp":
            import tensorflow_probability as tfp
            import tf_keras

            tf_keras.utils.set_random_seed(seed)
            dist = tfp.distributions.PixelCNN(
                image_shape=(h, w, c),
                conditional_shape=None,
                num_resnet=config["num_resnet"],
                num_hierarchies=config["num_hierarchies"],
                num_filters=config["num_filters"],
                num_logistic_mix=config["num_logistic_mix"],
                dropout_p=0.0,
                use_weight_norm=tfp_weight_norm,
                high=255,
                low=0,
            )
            self.variables = list(dist.trainable_variables)
            optimizer = tf_keras.optimizers.Adam(1e-3)
            optimizer.build(self.variables)

            def log_prob(images, training):
                return dist.log_prob(images, training=training)

            def eval_log_prob(images):
                return dist.log_prob(images, training=False)

            # Weights the kernel masks keep (TFP's causal convolutions are
            # full kernels times a mask; the masked-out entries are stored,
            # trained to zero and multiplied by zero).
            kept = 0
            for v in self.variables:
                constraint = getattr(v, "constraint", None)
                if constraint is None:
                    kept += int(math.prod(v.shape))
                else:
                    kept += int(tf.math.count_nonzero(constraint(tf.ones_like(v))))
            self.masked_params = kept
        else:
            raise ValueError(f"Unknown implementation {impl!r}")
        self.params = sum(int(math.prod(v.shape)) for v in self.variables)

        variables = self.variables

        def loss_fn(images):
            return -tf.reduce_mean(log_prob(images, training=True))

        @tf.function(jit_compile=jit_compile)
        def train_step(images):
            with tf.GradientTape() as tape:
                loss = loss_fn(images)
            grads = tape.gradient(loss, variables)
            optimizer.apply_gradients(zip(grads, variables))
            return loss

        @tf.function
        def forward_step(images):
            return loss_fn(images)

        @tf.function
        def grad_step(images):
            with tf.GradientTape() as tape:
                loss = loss_fn(images)
            grads = tape.gradient(loss, variables)
            # Depend on every gradient so none of them is pruned.
            return loss + 0.0 * tf.add_n([tf.reduce_sum(g) for g in grads])

        self.fns = {
            "train": train_step,
            "log_prob": tf.function(
                (lambda images: log_prob(images, False)) if jit_compile else eval_log_prob,
                jit_compile=jit_compile,
            ),
            "forward": forward_step,
            "forward_backward": grad_step,
        }
        if impl == "ours":  # float32, no XLA
            from pixel_keras.pixel_values import check_pixel_values

            # The pixel-value check that every train step (and log_prob)
            # runs, alone (plus a sum that makes it run): its share of a step.
            self.fns["pixel_check"] = tf.function(
                lambda images: tf.reduce_sum(check_pixel_values(images, 256))
            )

    def run(self, name, images, steps):
        """Runs `steps` calls; returns seconds and the last output.

        As `timeit` does, the garbage collector is off while timing (after a
        collection), so that a collection of the many Python objects that
        tracing leaves behind does not land in one side's timed steps.
        """
        fn = self.fns[name]
        if steps < 1:
            return 0.0, None
        gc.collect()
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            start = time.perf_counter()
            for _ in range(steps):
                out = fn(images)
            out = out.numpy()  # Wait for the result.
            seconds = time.perf_counter() - start
        finally:
            if gc_was_enabled:
                gc.enable()
        return seconds, out


def parse_variant(impl):
    """`(dtype policy, jit_compile)` of "ours", "ours:<policy>[+xla]" or "tfp"."""
    if ":" not in impl:
        return "float32", False
    variant = impl.split(":", 1)[1]
    policy, _, xla = variant.partition("+")
    if policy not in ("float32", "mixed_bfloat16", "mixed_float16") or xla not in ("", "xla"):
        raise ValueError(
            "Expected a variant '<float32|mixed_bfloat16|mixed_float16>[+xla]'. "
            f"Received: {variant!r}"
        )
    return policy, bool(xla)


def make_images(config, batch_size, seed=0):
    import numpy as np
    import tensorflow as tf

    rng = np.random.RandomState(seed)
    images = rng.randint(0, 256, size=(batch_size, *config["image_shape"]))
    return tf.constant(images.astype("float32"))


# --- Child process: peak memory ------------------------------------------------


def _import_all():
    # Both children import the same modules, so their baselines match.
    import keras  # noqa: F401
    import tensorflow as tf  # noqa: F401
    import tensorflow_probability as tfp  # noqa: F401
    import tf_keras  # noqa: F401

    import pixel_keras.models  # noqa: F401


def child_main(args):
    result = {"impl": args._child, "config": args.configs}
    try:
        _import_all()
        # The RSS after the imports (the same for both implementations).
        result["baseline_rss_mib"] = proc_status_mib("VmRSS") or maxrss_mib()
        config = parse_config(args.configs)
        bench = _Bench(args._child, config, tfp_weight_norm=args.tfp_weight_norm)
        images = make_images(config, args.batch_size)
        bench.run("train", images, args.warmup + args.steps)
        bench.run("log_prob", images, max(1, args.steps))
        result["peak_rss_mib"] = maxrss_mib()
        # The same high-water mark from the kernel's per-process counter, as
        # a check (ru_maxrss would include a big parent's RSS at fork time).
        result["vm_hwm_mib"] = proc_status_mib("VmHWM")
        result["rss_growth_mib"] = result["peak_rss_mib"] - result["baseline_rss_mib"]
    except Exception as e:  # Reported to the parent, which carries on.
        result["error"] = f"{type(e).__name__}: {e}"
    print(_CHILD_TAG + json.dumps(result), flush=True)


def measure_memory(impl, config, args):
    cmd = [
        sys.executable,
        os.path.abspath(__file__),
        f"--_child={impl}",
        f"--configs={config['name']}",
        f"--batch_size={args.batch_size}",
        f"--steps={args.memory_steps}",
        f"--warmup={args.warmup}",
    ]
    if args.tfp_weight_norm:
        cmd.append("--tfp_weight_norm")
    for pool in ("intra_op", "inter_op"):
        if getattr(args, f"{pool}_threads") is not None:
            cmd.append(f"--{pool}_threads={getattr(args, f'{pool}_threads')}")
    proc = subprocess.run(cmd, capture_output=True, text=True)
    for line in proc.stdout.splitlines():
        if line.startswith(_CHILD_TAG):
            return json.loads(line[len(_CHILD_TAG):])
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
    return {"error": f"child exited with {proc.returncode}: {' | '.join(tail)}"}


# --- Parent process ------------------------------------------------------------


def _log(msg):
    print(msg, flush=True)


def time_both(benches, images, name, steps, repeats):
    """Interleaved timed repeats; returns {impl: [images/s per repeat]}.

    The implementations take turns, in alternating order, so that neither
    always runs first (or right after the other) when the machine is noisy.
    """
    batch = int(images.shape[0])
    rates = {impl: [] for impl in benches}
    order = list(benches)
    for repeat in range(repeats):
        for impl in order if repeat % 2 == 0 else order[::-1]:
            seconds, _ = benches[impl].run(name, images, steps)
            rates[impl].append(batch * steps / seconds)
    return rates


def benchmark_config(config, args):
    import tensorflow as tf

    row = {"config": config["name"], "impls": {}}
    images = make_images(config, args.batch_size)
    bits = math.prod(config["image_shape"]) * math.log(2.0)
    # Build both before warming either: building seeds the global TF RNG
    # (`tf.random.set_seed`), and after that every already-traced
    # `tf.function` pays a one-time cost (~0.1-0.4 s) on its next call, which
    # would otherwise land in the first timed repeat of the side built first.
    built = {}
    for impl in implementations(args):
        entry = row["impls"].setdefault(impl, {})
        try:
            start = time.perf_counter()
            bench = _Bench(impl, config, tfp_weight_norm=args.tfp_weight_norm)
            entry["params"] = bench.params
            entry["masked_params"] = bench.masked_params
            built[impl] = (bench, time.perf_counter() - start)
        except Exception as e:
            entry["error"] = f"{type(e).__name__}: {e}"
            _log(f"  {impl:4s}: build FAILED: {entry['error']}")
    benches = {}
    for impl, (bench, build_s) in built.items():
        entry = row["impls"][impl]
        try:
            start = time.perf_counter()
            # Warm-up: the first call traces; the rest settle caches.
            _, first_loss = bench.run("train", images, 1)
            bench.run("train", images, args.warmup - 1)
            _, lp = bench.run("log_prob", images, 1)
            bench.run("log_prob", images, args.warmup - 1)
            if args.breakdown:
                bench.run("forward", images, args.warmup)
                bench.run("forward_backward", images, args.warmup)
            warm_s = time.perf_counter() - start
            entry["init_bits_per_dim"] = float(first_loss) / bits
            entry["log_prob_bits_per_dim"] = float(-tf.reduce_mean(lp)) / bits
            benches[impl] = bench
            _log(
                f"  {impl:4s}: {bench.params:,} params"
                + (
                    f" ({bench.masked_params:,} not masked out)"
                    if bench.masked_params is not None
                    else ""
                )
                + f"; build {build_s:.1f}s, warm-up {warm_s:.1f}s; "
                f"NLL at step 0 {entry['init_bits_per_dim']:.3f} bits/dim"
            )
        except Exception as e:
            entry["error"] = f"{type(e).__name__}: {e}"
            _log(f"  {impl:4s}: FAILED: {entry['error']}")
    if not benches:
        return row

    names = ["train", "log_prob"]
    if args.breakdown:
        names += ["forward", "forward_backward"]
    for name in names:
        steps = args.steps if name != "log_prob" else args.log_prob_steps
        try:
            rates = time_both(benches, images, name, steps, args.repeats)
        except Exception as e:  # A failure at run time, after warm-up.
            for impl in benches:
                row["impls"][impl].setdefault("error", f"{type(e).__name__}: {e}")
            continue
        for impl, values in rates.items():
            row["impls"][impl][name] = statistics.median(values)
            row["impls"][impl][name + "_spread"] = (max(values) - min(values)) / (
                statistics.median(values)
            )
    if args.breakdown and "ours" in benches:
        benches["ours"].run("pixel_check", images, args.warmup)
        rates = time_both(
            {"ours": benches["ours"]}, images, "pixel_check", args.steps, args.repeats
        )
        row["impls"]["ours"]["pixel_check"] = statistics.median(rates["ours"])
    return row


def implementations(args):
    """"ours" (float32), one "ours:<variant>" per `--variants`, "tfp"."""
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    return ("ours", *[f"ours:{v}" for v in variants if v != "float32"], "tfp")


def memory_all(configs, args):
    """Peak RSS of one fresh subprocess per (configuration, implementation).

    Run before this process imports TensorFlow: on Linux a child's
    `ru_maxrss` starts from its parent's RSS at fork time (the kernel keeps
    the old address space's high-water mark across `exec`), so the parent
    must still be small.
    """
    results = {}
    for config in configs:
        for impl in IMPLEMENTATIONS:
            start = time.perf_counter()
            mem = measure_memory(impl, config, args)
            results[config["name"], impl] = mem
            if "error" in mem:
                _log(
                    f"  {config['name']} {impl:4s}: memory child FAILED: "
                    f"{mem['error']}"
                )
            else:
                _log(
                    f"  {config['name']} {impl:4s}: "
                    f"peak RSS {mem['peak_rss_mib']:.0f} MiB "
                    f"(VmHWM {_fmt(mem.get('vm_hwm_mib'), '.0f')}), "
                    f"{mem['baseline_rss_mib']:.0f} MiB after imports "
                    f"({time.perf_counter() - start:.0f}s)"
                )
    return results


def merge_memory(rows, memory):
    for row in rows:
        for impl in IMPLEMENTATIONS:
            mem = memory.get((row["config"], impl))
            if mem is None:
                continue
            entry = row["impls"].setdefault(impl, {})
            if "error" in mem:
                entry["memory_error"] = mem["error"]
            else:
                for key in ("peak_rss_mib", "rss_growth_mib", "baseline_rss_mib"):
                    entry[key] = mem[key]


def _fmt(value, spec):
    return "n/a" if value is None else format(value, spec)


def _ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def _fmt_ratio(a, b):
    ratio = _ratio(a, b)
    return "n/a" if ratio is None else f"{ratio:.2f}x"


def table_rows(rows):
    out = []
    for row in rows:
        tfp_ = row["impls"].get("tfp", {})
        for impl, ours in row["impls"].items():
            if impl == "tfp":
                continue
            policy, xla = parse_variant(impl)
            out.append(
                {
                    "config": row["config"],
                    "variant": policy + (" + XLA" if xla else ""),
                    "params": (ours.get("params"), tfp_.get("params")),
                    "train": (ours.get("train"), tfp_.get("train")),
                    "log_prob": (ours.get("log_prob"), tfp_.get("log_prob")),
                    "rss": (ours.get("peak_rss_mib"), tfp_.get("peak_rss_mib")),
                    "growth": (ours.get("rss_growth_mib"), tfp_.get("rss_growth_mib")),
                }
            )
    return out


def print_tables(rows, args):
    batch = args.batch_size
    plain = table_rows(rows)
    header = (
        f"{'config':22s} {'ours in':22s} {'params ours/tfp':>19s} "
        f"{'train img/s ours/tfp':>22s} {'ratio':>6s} "
        f"{'log_prob img/s ours/tfp':>25s} {'ratio':>6s} "
        f"{'peak RSS MiB ours/tfp':>22s} {'ratio':>6s} "
        f"{'RSS growth ours/tfp':>20s}"
    )
    _log("\n" + header)
    _log("-" * len(header))
    def pair(values, spec):
        return f"{_fmt(values[0], spec)} / {_fmt(values[1], spec)}"

    for r in plain:
        _log(
            f"{r['config']:22s} {r['variant']:22s} "
            f"{pair(r['params'], ','):>19s} "
            f"{pair(r['train'], '.1f'):>22s} "
            f"{_fmt(_ratio(*r['train']), '.2f'):>6s} "
            f"{pair(r['log_prob'], '.1f'):>25s} "
            f"{_fmt(_ratio(*r['log_prob']), '.2f'):>6s} "
            f"{pair(r['rss'], '.0f'):>22s} "
            f"{_fmt(_ratio(*r['rss']), '.2f'):>6s} "
            f"{pair(r['growth'], '.0f'):>20s}"
        )
    _log(
        "ratio = ours / TFP: > 1 means ours is faster (throughput) or uses "
        "more memory (RSS)."
    )
    for row in rows:
        for impl, entry in row["impls"].items():
            for key in ("error", "memory_error"):
                if key in entry:
                    _log(f"{row['config']} {impl}: {key}: {entry[key]}")
            spreads = [
                f"{n} {entry[n + '_spread']:.0%}"
                for n in ("train", "log_prob")
                if n + "_spread" in entry
            ]
            if spreads:
                _log(
                    f"{row['config']} {impl}: spread (max-min)/median: "
                    + ", ".join(spreads)
                )

    if args.breakdown:
        _log(
            "\nPer-step time breakdown (ms per batch, medians of separately "
            "timed functions; the differences are noisy on a loaded machine):"
        )
        _log(
            f"{'config':22s} {'impl':5s} {'forward+NLL':>12s} {'+backward':>10s} "
            f"{'+Adam (step)':>13s} {'= backward':>11s} {'= Adam':>8s}"
        )

        def delta(x):
            return f"{x:.1f}" if x >= 0 else "<0 noise"

        for row in rows:
            for impl, e in row["impls"].items():
                if not all(k in e for k in ("forward", "forward_backward", "train")):
                    continue
                fwd = 1000 * batch / e["forward"]
                fwdbwd = 1000 * batch / e["forward_backward"]
                step = 1000 * batch / e["train"]
                _log(
                    f"{row['config']:22s} {impl:5s} {fwd:12.1f} {fwdbwd:10.1f} "
                    f"{step:13.1f} {delta(fwdbwd - fwd):>11s} "
                    f"{delta(step - fwdbwd):>8s}"
                )
        for row in rows:
            e = row["impls"].get("ours", {})
            if "pixel_check" in e and "train" in e:
                check = 1000 * batch / e["pixel_check"]
                step = 1000 * batch / e["train"]
                _log(
                    f"{row['config']:22s} ours: the pixel-value check (in every "
                    f"step) takes {check:.3f} ms per batch, "
                    f"{100 * check / step:.2f}% of a train step"
                )

    _log("\nMarkdown:\n")
    _log(
        "| config | ours in | params (ours / TFP) | train img/s (ours / TFP) | train ratio "
        "| log_prob img/s (ours / TFP) | log_prob ratio "
        "| peak RSS MiB (ours / TFP) | RSS ratio | RSS growth MiB (ours / TFP) |"
    )
    _log("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in plain:
        _log(
            f"| {r['config']} | {r['variant']} "
            f"| {_fmt(r['params'][0], ',')} / {_fmt(r['params'][1], ',')} "
            f"| {_fmt(r['train'][0], '.1f')} / {_fmt(r['train'][1], '.1f')} "
            f"| {_fmt_ratio(*r['train'])} "
            f"| {_fmt(r['log_prob'][0], '.1f')} / {_fmt(r['log_prob'][1], '.1f')} "
            f"| {_fmt_ratio(*r['log_prob'])} "
            f"| {_fmt(r['rss'][0], '.0f')} / {_fmt(r['rss'][1], '.0f')} "
            f"| {_fmt_ratio(*r['rss'])} "
            f"| {_fmt(r['growth'][0], '.0f')} / {_fmt(r['growth'][1], '.0f')} |"
        )
    _log(
        f"\nBatch size {batch}; train and log_prob as `tf.function` (XLA only "
        "where a row says so; TFP's always float32 without XLA), "
        f"median of {args.repeats} repeats of {args.steps} train / "
        f"{args.log_prob_steps} log_prob steps after {args.warmup} warm-up "
        "steps. Ratio = ours / TFP (> 1: ours faster, or more memory for RSS). "
        "Peak RSS: `ru_maxrss` of a fresh process per implementation and "
        "configuration (the same modules imported in both) after its train "
        "and log_prob steps; RSS growth: that peak minus the RSS after the "
        "imports. TFP's PixelCNN "
        + ("with" if args.tfp_weight_norm else "without")
        + " weight normalization; its parameter count includes the masked-out "
        "entries of its masked kernels."
    )


def _print_backward_choices():
    """What the causal convolutions' autotuning chose on this machine."""
    from pixel_keras.layers import padded_conv2d

    measured = padded_conv2d.measured_backward_passes()
    if not measured:
        _log("\nNo convolution backward pass was measured (PIXEL_KERAS_CONV pins one).")
        return
    _log(
        f"\nBackward passes chosen by measuring, per convolution shape ({len(measured)} "
        "shapes; ms of the three passes, the chosen one starred):"
    )
    for input_shape, kernel_shape, padding, dtype, timings, choice in measured:
        cells = ", ".join(
            f"{'*' if name == choice else ''}{name} {1000 * seconds:.2f}"
            for name, seconds in timings.items()
        )
        _log(f"  {input_shape} * {kernel_shape} pad {padding} {dtype}: {cells}")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--configs",
        default=",".join(DEFAULT_CONFIGS),
        help="comma-separated configurations, HxWxC-rR-hN-fF-kK or a prefix "
        "of a default one",
    )
    parser.add_argument("--batch_size", type=int, default=16, help="images per batch")
    parser.add_argument(
        "--steps", type=int, default=3, help="train steps per timed repeat"
    )
    parser.add_argument(
        "--log_prob_steps", type=int, default=5, help="log_prob calls per timed repeat"
    )
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats")
    parser.add_argument(
        "--warmup",
        type=int,
        default=2,
        help="untimed steps before timing (>= 1: the first one traces)",
    )
    parser.add_argument(
        "--memory_steps",
        type=int,
        default=2,
        help="steps after warm-up in each memory subprocess",
    )
    parser.add_argument(
        "--skip_memory", action="store_true", help="no peak-RSS subprocesses"
    )
    parser.add_argument(
        "--breakdown",
        action="store_true",
        help="also time forward+NLL and forward+backward, to split the train step",
    )
    parser.add_argument(
        "--tfp_weight_norm",
        action="store_true",
        help="TFP's PixelCNN with its (default) weight normalization; "
        "off by default because our model has none",
    )
    parser.add_argument(
        "--variants",
        default=DEFAULT_VARIANTS,
        help="comma-separated extra rows of ours, each a dtype policy "
        "(float32, mixed_bfloat16, mixed_float16) with an optional '+xla'; "
        "'' for float32 only",
    )
    parser.add_argument(
        "--json", default=None, help="also write the raw results to this file"
    )
    parser.add_argument("--_child", choices=IMPLEMENTATIONS, help=argparse.SUPPRESS)
    add_thread_arguments(parser)
    args = parser.parse_args(argv)
    set_threads(parser, args)
    for name in ("batch_size", "steps", "log_prob_steps", "repeats", "warmup"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be >= 1")
    return args


def main(argv=None):
    args = parse_args(argv)
    if args._child:
        child_main(args)
        return
    configs = [parse_config(s) for s in args.configs.split(",") if s.strip()]
    start = time.perf_counter()
    load_start = os.getloadavg()
    memory = {}
    if not args.skip_memory:
        _log("Peak memory, one subprocess per implementation and configuration:")
        memory = memory_all(configs, args)
    _log(machine_summary())
    _log(f"Load average at start: {load_start}")
    _log(
        f"Batch size {args.batch_size}, {args.repeats} repeats x {args.steps} "
        f"train / {args.log_prob_steps} log_prob steps, {args.warmup} warm-up."
    )
    rows = []
    for config in configs:
        _log(f"\n[{config['name']}]")
        rows.append(benchmark_config(config, args))
    merge_memory(rows, memory)
    print_tables(rows, args)
    _print_backward_choices()
    _log(f"\nLoad average at end: {os.getloadavg()}")
    _log(f"Total time: {time.perf_counter() - start:.0f}s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "rows": rows}, f, indent=2)


if __name__ == "__main__":
    main()
