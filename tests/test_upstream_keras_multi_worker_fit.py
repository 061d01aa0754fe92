"""Upstream bug: Keras 3 `model.fit` fails under a 2-worker MultiWorkerMirroredStrategy.

Two bugs in keras/src/backend/tensorflow/trainer.py (seen in Keras 3.15.1,
TF 2.21.0; also tensorflow/tensorflow#72388):

1. `reduce_per_replica(..., reduction="auto")` calls
   `strategy.reduce("MEAN", v, axis=0)` on every log of `train_step`, which
   are scalars, so tracing `train_function` raises
   `ValueError: Invalid reduction dimension 0 for input with 0 dimensions`.
2. `_maybe_symbolic_build` (model created in `strategy.scope()`) calls
   `strategy.reduce("MEAN", batch, axis=None)` on the whole distributed
   batch before the first step; when the batch is a structure ((x, y) tuple,
   dict of inputs) rather than one tensor that raises
   `ValueError: Attempt to convert a value ((PerReplica:{...}, ...)) with an
   unsupported type (<class '...PerReplica'>) to a Tensor.`
   (for a dict: `unsupported type (<class 'dict'>)`).

The test passes while the bugs exist; when it fails with "fit succeeded",
Keras has fixed them and `model.fit` can be used under multi_worker.
Runs 2 local worker processes on free 127.0.0.1 ports; about 20-30 s.
"""

import json
import os
import socket
import subprocess
import sys
import textwrap

import pytest

WORKER = textwrap.dedent(
    r'''
    import json, os, sys
    os.environ["TF_CONFIG"] = json.dumps({
        "cluster": {"worker": [f"127.0.0.1:{p}" for p in sys.argv[1:3]]},
        "task": {"type": "worker", "index": int(sys.argv[3])}})
    import numpy as np
    import tensorflow as tf
    import keras

    # Must be created before any other TF op runs in this process.
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.DATA)

    def run(make_model, dataset, loss=None):
        """fit 4 steps of global batch 16; returns the error text or 'ok'."""
        dataset = dataset.batch(16, drop_remainder=True).with_options(options)
        with strategy.scope():
            model = make_model()
            model.compile(optimizer="sgd", loss=loss)
        try:
            model.fit(dataset, epochs=1, steps_per_epoch=4, verbose=0)
            return "ok"
        except ValueError as error:
            text = str(error)
            return text if len(text) < 400 else text[:150] + " ... " + text[-250:]

    class AutoEncoder(keras.Model):
        """Batches are x only; the loss is computed in compute_loss."""

        def __init__(self):
            inputs = keras.Input((3,))
            super().__init__(inputs, keras.layers.Dense(3)(inputs))

        def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None,
                         training=True):
            return keras.ops.mean(keras.ops.square(y_pred - x))

    def dense():
        return keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])

    x = np.random.default_rng(0).normal(size=(64, 3)).astype("float32")
    y = x.sum(axis=1, keepdims=True)
    results = {
        # Batches are single tensors: the symbolic build passes, then tracing
        # train_function fails in reduce_per_replica.
        "scalar_logs": run(AutoEncoder, tf.data.Dataset.from_tensor_slices(x)),
        # Batches are (x, y) tuples: the symbolic build fails first.
        "nested_batch": run(dense, tf.data.Dataset.from_tensor_slices((x, y)), "mse"),
    }
    print("RESULTS " + json.dumps(results), flush=True)
    '''
)


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def worker_results(tmp_path_factory):
    script = tmp_path_factory.mktemp("mwms") / "worker.py"
    script.write_text(WORKER)
    ports = [str(_free_port()), str(_free_port())]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="-1")
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), *ports, str(index)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
        )
        for index in range(2)
    ]
    results = []
    try:
        for proc in procs:
            output, _ = proc.communicate(timeout=120)
            lines = [l for l in output.splitlines() if l.startswith("RESULTS ")]
            assert proc.returncode == 0 and lines, output[-3000:]
            results.append(json.loads(lines[-1][len("RESULTS "):]))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    return results


def test_fit_reduces_scalar_logs_on_axis_0(worker_results):
    for result in worker_results:
        assert result["scalar_logs"] != "ok", "fit succeeded: upstream bug fixed"
        assert "Invalid reduction dimension 0 for input with 0 dimensions" in (
            result["scalar_logs"])


def test_symbolic_build_reduces_nested_per_replica_batch(worker_results):
    for result in worker_results:
        message = result["nested_batch"]
        assert message != "ok", "fit succeeded: upstream bug fixed"
        assert message.startswith("Attempt to convert a value (")
        assert "PerReplica" in message and message.endswith("to a Tensor.")
