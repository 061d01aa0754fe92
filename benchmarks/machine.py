"""What a benchmark ran on: every figure names its machine (`python
benchmarks/machine.py` prints it).

oneDNN (TensorFlow's CPU backend) picks its kernels by the CPU's instruction
sets, so a speed measured on one CPU says little about another: every
benchmark prints `machine_summary()` first.
"""

import os
import platform
import resource
import sys

# The instruction sets that decide oneDNN's kernels.
ISA_FLAGS = ("avx2", "avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16", "amx_int8", "amx_tile")


def _cpuinfo():
    """`(model name, set of flags)` from /proc/cpuinfo (empty elsewhere)."""
    name, flags = "", set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and not name:
                    name = line.split(":", 1)[1].strip()
                elif line.startswith("flags") and not flags:
                    flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return name, flags


def machine_summary():
    """The CPU (model name, ISA flags, cores), GPUs, and library versions."""
    import keras
    import tensorflow as tf
    import tensorflow_probability as tfp

    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    name, flags = _cpuinfo()
    isa = [flag for flag in ISA_FLAGS if flag in flags]
    gpus = tf.config.list_physical_devices("GPU")
    onednn = os.environ.get("TF_ENABLE_ONEDNN_OPTS", "1") != "0"
    threads = tf.config.threading
    return (
        f"Machine: {name or platform.processor() or platform.machine()}, "
        f"ISA {' '.join(isa) or 'none of ' + '/'.join(ISA_FLAGS)}, "
        f"{os.cpu_count()} CPUs ({usable} usable)"
        + (f", GPUs: {[gpu.name for gpu in gpus]}" if gpus else ", no GPU")
        + f"\nPython {platform.python_version()}, TensorFlow {tf.__version__} "
        f"(oneDNN {'on' if onednn else 'off'}), Keras {keras.__version__}, "
        f"TFP {tfp.__version__}"
        f"\nTensorFlow threads: intra-op {threads.get_intra_op_parallelism_threads()}, "
        f"inter-op {threads.get_inter_op_parallelism_threads()} (0: TensorFlow's "
        "default, about one per core)"
        # XLA's options change the compiled sampling loops' speed (README,
        # "Thread pools").
        + (f"\nXLA_FLAGS={os.environ['XLA_FLAGS']}" if os.environ.get("XLA_FLAGS") else "")
    )


def add_thread_arguments(parser):
    """Adds `--intra_op_threads` and `--inter_op_threads` to an argparse
    parser: TensorFlow's thread pools, as `main.py`'s flags of the same
    names set them, so that a benchmark measures what a user's setting
    gives."""
    for pool in ("intra_op", "inter_op"):
        parser.add_argument(
            f"--{pool}_threads",
            type=int,
            default=None,
            help=f"TensorFlow's {pool.replace('_', '-')} thread pool size "
            "(default: TensorFlow's own)",
        )


def set_threads(parser, args):
    """Sets TensorFlow's thread pools from `add_thread_arguments`' flags
    (`pixel_keras.training.distribute.set_thread_pools`), before anything
    runs TensorFlow, which fixes them when it starts."""
    from pixel_keras.training import distribute

    try:
        distribute.set_thread_pools(args.intra_op_threads, args.inter_op_threads)
    except ValueError as error:
        parser.error(str(error))


def maxrss_mib():
    """This process's peak resident memory in MiB, from `getrusage`."""
    # Linux reports KiB, macOS bytes.
    scale = 1.0 if sys.platform == "darwin" else 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20


def proc_status_mib(field):
    """`VmRSS` / `VmHWM` of this process in MiB (Linux), else None."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


if __name__ == "__main__":
    print(machine_summary())
