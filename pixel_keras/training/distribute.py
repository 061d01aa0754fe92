"""Choosing a `tf.distribute` strategy by name, and checking its settings.

`make_strategy("auto" | "one_device" | "mirrored" | "multi_worker" | "tpu")`
returns the strategy whose `scope()` the training code builds the model,
optimizer and metrics in. `--batch_size` is the global batch: Keras splits
each batch of the distributed dataset across the replicas, so it must be
divisible by their number.
"""

import json
import os

import tensorflow as tf

__all__ = [
    "STRATEGIES",
    "check_global_batch",
    "make_strategy",
    "parse_tf_config",
    "set_thread_pools",
    "split_cpu",
    "tpu_resolver_arguments",
]

STRATEGIES = ("auto", "one_device", "mirrored", "multi_worker", "tpu")
_TASK_TYPES = ("chief", "worker", "ps", "evaluator")


def parse_tf_config(value=None):
    """Checks and parses the `TF_CONFIG` of a multi-worker job.

    Args:
        value: the JSON text; defaults to the `TF_CONFIG` environment
            variable.

    Returns:
        The parsed dict, with `cluster` (task type -> list of "host:port")
        and `task` (`type`, `index`).

    Raises:
        ValueError: if it is missing, not JSON, or does not describe this
            task within the cluster.
    """
    if value is None:
        value = os.environ.get("TF_CONFIG")
    example = (
        'TF_CONFIG=\'{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
        '"task": {"type": "worker", "index": 0}}\''
    )
    if not value:
        raise ValueError(
            "--strategy=multi_worker reads the cluster from the TF_CONFIG "
            f"environment variable, which is not set. Set it on every host, e.g. {example}"
        )
    try:
        config = json.loads(value)
    except json.JSONDecodeError as error:
        raise ValueError(f"TF_CONFIG is not valid JSON ({error}). Expected e.g. {example}")
    if not isinstance(config, dict):
        raise ValueError(f"TF_CONFIG must be a JSON object. Received: {value!r}")
    cluster, task = config.get("cluster"), config.get("task")
    if not isinstance(cluster, dict) or not cluster:
        raise ValueError(
            f"TF_CONFIG needs a non-empty `cluster` object. Received: {value!r}"
        )
    for task_type, addresses in cluster.items():
        if task_type not in _TASK_TYPES:
            raise ValueError(
                f"TF_CONFIG cluster has an unknown task type {task_type!r}; "
                f"expected some of {_TASK_TYPES}."
            )
        if (
            not isinstance(addresses, list)
            or not addresses
            or not all(isinstance(a, str) and ":" in a for a in addresses)
        ):
            raise ValueError(
                f"TF_CONFIG cluster[{task_type!r}] must be a list of 'host:port' "
                f"strings. Received: {addresses!r}"
            )
    if not isinstance(task, dict) or "type" not in task or "index" not in task:
        raise ValueError(
            'TF_CONFIG needs a `task` object with `type` and `index`, e.g. '
            f'{{"type": "worker", "index": 0}}. Received: task={task!r}'
        )
    task_type, index = task["type"], task["index"]
    if task_type not in cluster:
        raise ValueError(
            f"TF_CONFIG task type {task_type!r} is not in the cluster "
            f"({sorted(cluster)})."
        )
    if isinstance(index, bool) or not isinstance(index, int) or not (
        0 <= index < len(cluster[task_type])
    ):
        raise ValueError(
            f"TF_CONFIG task index must be an int in [0, {len(cluster[task_type])}) "
            f"for {task_type!r}. Received: index={index!r}"
        )
    return config


def tpu_resolver_arguments(tpu):
    """Keyword arguments of `TPUClusterResolver` for the `--tpu` flag.

    Args:
        tpu: a TPU name (Cloud TPU node), a `grpc://host:port` address, or
            `"local"` for a TPU VM's own chips.

    Returns:
        dict for `tf.distribute.cluster_resolver.TPUClusterResolver(**args)`.

    Raises:
        ValueError: if `tpu` is empty.
    """
    if not tpu:
        raise ValueError(
            "--strategy=tpu needs --tpu: a TPU name, a grpc://host:port "
            "address, or 'local' on a TPU VM."
        )
    return {"tpu": tpu}


def split_cpu(num_devices):
    """Splits the CPU into `num_devices` logical devices (before TF starts).

    Lets `mirrored` run several replicas on a CPU-only machine, for tests
    and for trying a multi-device setup without GPUs.

    Raises:
        ValueError: if `num_devices` is not a positive int.
        RuntimeError: if TensorFlow has already initialized its devices.
    """
    if isinstance(num_devices, bool) or not isinstance(num_devices, int) or num_devices < 1:
        raise ValueError(
            f"Expected a positive int number of CPU devices. Received: {num_devices!r}"
        )
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * num_devices
    )


def set_thread_pools(intra_op_threads=None, inter_op_threads=None):
    """Sets TensorFlow's thread pools (before TF starts).

    The intra-op pool splits one op over its threads, the inter-op pool runs
    independent ops side by side; TensorFlow's default is about one thread
    per core for each. They belong to the process and are fixed when
    TensorFlow starts, so pixel_keras never sets them itself: `main.py`
    calls this with its `--intra_op_threads` and `--inter_op_threads`, and
    a program may call it first thing. On small CPUs a 1-thread intra-op
    pool can make the XLA-compiled sampling loops faster and scoring slower
    (README, "Thread pools").

    Args:
        intra_op_threads: None (keep TensorFlow's) or a positive int.
        inter_op_threads: None (keep TensorFlow's) or a positive int.

    Raises:
        ValueError: if a size is not None or a positive int.
        RuntimeError: if TensorFlow has already started with other pools.
    """
    setters = {
        "intra_op_threads": tf.config.threading.set_intra_op_parallelism_threads,
        "inter_op_threads": tf.config.threading.set_inter_op_parallelism_threads,
    }
    sizes = {"intra_op_threads": intra_op_threads, "inter_op_threads": inter_op_threads}
    for name, size in sizes.items():
        if size is not None and (
            isinstance(size, bool) or not isinstance(size, int) or size < 1
        ):
            raise ValueError(
                f"Expected `{name}` to be None or a positive int. Received: {size!r}"
            )
    for name, size in sizes.items():
        if size is None:
            continue
        try:
            setters[name](size)
        except RuntimeError as error:
            raise RuntimeError(
                f"{name}={size}: TensorFlow's thread pools are fixed when it starts, "
                f"and it has started ({error})"
            ) from None


def _gpus():
    return tf.config.list_logical_devices("GPU")


def accelerator_visible():
    """Whether TensorFlow sees a device other than CPUs (a GPU or TPU): the
    rule by which Keras' `jit_compile="auto"` turns XLA on."""
    return any(d.device_type != "CPU" for d in tf.config.list_physical_devices())


def make_strategy(name="auto", tpu=None):
    """The `tf.distribute` strategy named `name`.

    Args:
        name: `"auto"` (mirrored over the GPUs when there are several, else
            the default strategy), `"one_device"` (the first GPU, or the
            CPU), `"mirrored"` (every GPU, or every logical CPU device when
            there is no GPU), `"multi_worker"` (`MultiWorkerMirroredStrategy`
            over the cluster in `TF_CONFIG`) or `"tpu"`.
        tpu: for `"tpu"`, see `tpu_resolver_arguments`.

    Returns:
        A `tf.distribute.Strategy`.

    Raises:
        ValueError: for an unknown name, or bad `TF_CONFIG` / `--tpu`.
    """
    if name not in STRATEGIES:
        raise ValueError(f"Expected --strategy in {STRATEGIES}. Received: {name!r}")
    if name == "auto":
        if len(_gpus()) > 1:
            return tf.distribute.MirroredStrategy()
        return tf.distribute.get_strategy()
    if name == "one_device":
        gpus = _gpus()
        return tf.distribute.OneDeviceStrategy(gpus[0].name if gpus else "/cpu:0")
    if name == "mirrored":
        devices = _gpus() or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([device.name for device in devices])
    if name == "multi_worker":
        parse_tf_config()
        return tf.distribute.MultiWorkerMirroredStrategy()
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver(
        **tpu_resolver_arguments(tpu)
    )
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    return tf.distribute.TPUStrategy(resolver)


def check_global_batch(batch_size, strategy):
    """Raises a ValueError unless the replicas split the batch evenly."""
    replicas = strategy.num_replicas_in_sync
    if batch_size % replicas:
        raise ValueError(
            f"--batch_size is the global batch and must be divisible by the "
            f"{replicas} replicas of the strategy. Received: --batch_size={batch_size}"
        )
