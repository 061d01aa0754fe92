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

The tests state the behaviour we want (`fit` works under the strategy) and
are strict xfails: they fail, as expected, only with the known errors above
(`KnownKerasBug`); any other failure is a real one. Once Keras is fixed
they XPASS, which strict xfail reports as a failure: then use `model.fit`
under multi_worker, drop `pixel_keras.training.multi_worker.fit_multi_worker`, and
remove the markers.
Runs 2 local worker processes on free 127.0.0.1 ports; about 20-30 s.
"""

import json
import os
import subprocess
import sys
import textwrap

import pytest

from tests import helpers

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


@pytest.fixture(scope="module")
def worker_results(tmp_path_factory):
    script = tmp_path_factory.mktemp("mwms") / "worker.py"
    script.write_text(WORKER)
    ports = [str(helpers.free_port()), str(helpers.free_port())]
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


class KnownKerasBug(Exception):
    """`fit` failed with the error of one of the upstream bugs."""


# Two worker processes per run (seconds): with -m slow.
pytestmark = pytest.mark.slow

_UPSTREAM_BUG = pytest.mark.xfail(
    strict=True,
    raises=KnownKerasBug,
    reason="Keras 3.15 fit fails under MultiWorkerMirroredStrategy "
    "(tensorflow/tensorflow#72388); an XPASS means it is fixed and "
    "pixel_keras.training.multi_worker.fit_multi_worker can go",
)


def _check_fit_works(result, is_known_bug):
    """Passes when `fit` worked; raises `KnownKerasBug` for the known error.

    Args:
        result: `"ok"` or the error text of one `run` of the worker script.
        is_known_bug: whether an error text is the known upstream one.
    """
    if result == "ok":
        return
    if is_known_bug(result):
        raise KnownKerasBug(result)
    pytest.fail(f"fit failed, but not with the known upstream error: {result}")


@_UPSTREAM_BUG
def test_fit_works_with_scalar_logs(worker_results):
    # Bug 1: every scalar log of `train_step` is reduced on axis 0.
    for result in worker_results:
        _check_fit_works(
            result["scalar_logs"],
            lambda message: "Invalid reduction dimension 0 for input with 0 dimensions"
            in message,
        )


@_UPSTREAM_BUG
def test_fit_works_with_nested_batches(worker_results):
    # Bug 2: the symbolic build reduces the nested `PerReplica` batch.
    for result in worker_results:
        _check_fit_works(
            result["nested_batch"],
            lambda message: message.startswith("Attempt to convert a value (")
            and "PerReplica" in message
            and message.endswith("to a Tensor."),
        )
