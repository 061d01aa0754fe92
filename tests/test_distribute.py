"""Strategies by name, TF_CONFIG checks, mirrored training, and a killed run
that continues from its backup."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import types

import numpy as np
import pytest

from pixel_keras.training import distribute
from pixel_keras.training import multi_worker

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = dict(os.environ, CUDA_VISIBLE_DEVICES="", TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=ROOT)


def _tf_config(**overrides):
    config = {
        "cluster": {"worker": ["localhost:2001", "localhost:2002"]},
        "task": {"type": "worker", "index": 1},
    }
    config.update(overrides)
    return json.dumps(config)


def test_tf_config_is_parsed():
    config = distribute.parse_tf_config(_tf_config())
    assert config["task"] == {"type": "worker", "index": 1}


@pytest.mark.parametrize(
    "value, message",
    [
        ("", "not set"),
        ("{not json", "not valid JSON"),
        ("[1, 2]", "JSON object"),
        (_tf_config(cluster={}), "non-empty `cluster`"),
        (_tf_config(cluster={"workers": ["a:1"]}), "unknown task type 'workers'"),
        (_tf_config(cluster={"worker": ["no-port"]}), "'host:port'"),
        (_tf_config(task={"type": "worker"}), "`type` and `index`"),
        (_tf_config(task={"type": "chief", "index": 0}), "not in the cluster"),
        (_tf_config(task={"type": "worker", "index": 2}), r"index must be an int in \[0, 2\)"),
        (_tf_config(task={"type": "worker", "index": True}), "index must be an int"),
    ],
)
def test_bad_tf_config_is_refused_clearly(value, message):
    with pytest.raises(ValueError, match=message):
        distribute.parse_tf_config(value)


def test_multi_worker_without_tf_config_is_refused(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ValueError, match="TF_CONFIG"):
        distribute.make_strategy("multi_worker")


def test_unknown_strategy_is_refused():
    with pytest.raises(ValueError, match="--strategy .*'horovod'"):
        distribute.make_strategy("horovod")


def test_tpu_resolver_arguments():
    assert distribute.tpu_resolver_arguments("grpc://10.0.0.2:8470") == {
        "tpu": "grpc://10.0.0.2:8470"
    }
    assert distribute.tpu_resolver_arguments("my-tpu") == {"tpu": "my-tpu"}
    assert distribute.tpu_resolver_arguments("local") == {"tpu": "local"}
    with pytest.raises(ValueError, match="--tpu"):
        distribute.make_strategy("tpu", tpu=None)


def test_global_batch_must_split_evenly():
    strategy = types.SimpleNamespace(num_replicas_in_sync=2)
    distribute.check_global_batch(32, strategy)
    with pytest.raises(ValueError, match="divisible by the 2 replicas.*=33"):
        distribute.check_global_batch(33, strategy)


def test_default_strategies_on_a_cpu_machine():
    import tensorflow as tf

    assert distribute.make_strategy("auto") is tf.distribute.get_strategy()
    one = distribute.make_strategy("one_device")
    assert one.num_replicas_in_sync == 1


_MIRRORED_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    from pixel_keras.training import distribute
    distribute.split_cpu(2)
    import keras
    from pixel_keras import data
    from pixel_keras.models import PixelCNNPlusPlus

    images, _ = data.images_and_labels(data.load("digits").train, limit=64)
    images = images.astype("float32")

    def losses(strategy):
        keras.utils.set_random_seed(0)
        with strategy.scope():
            model = PixelCNNPlusPlus.from_preset(
                "tiny", num_filters=8, num_logistic_mix=2, dropout=0.0)
            model.compile(optimizer=keras.optimizers.Adam(1e-3))
        history = model.fit(images, batch_size=16, epochs=3, shuffle=False, verbose=0)
        return strategy.num_replicas_in_sync, history.history["loss"]

    mirrored = distribute.make_strategy("mirrored")
    single = distribute.make_strategy("one_device")
    print(json.dumps({"mirrored": losses(mirrored), "single": losses(single)}))
    """
)


@pytest.mark.slow
def test_mirrored_on_two_cpu_devices_matches_one_device():
    run = subprocess.run(
        [sys.executable, "-c", _MIRRORED_SCRIPT],
        cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    (replicas, mirrored), (one, single) = result["mirrored"], result["single"]
    assert replicas == 2 and one == 1
    assert mirrored[-1] < mirrored[0]
    # The same global batch split over two replicas: the same losses, up to
    # the order of float additions.
    np.testing.assert_allclose(mirrored, single, rtol=2e-4)


def test_batch_not_divisible_by_replicas_fails_in_main(tmp_path):
    run = subprocess.run(
        [sys.executable, "main.py", f"--workdir={tmp_path}", "--strategy=mirrored",
         "--num_cpu_devices=2", "--batch_size=33", "--epochs=1"],
        cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 2
    assert "divisible by the 2 replicas" in run.stderr


def _train_command(workdir):
    return [
        sys.executable, "main.py", "train", f"--workdir={workdir}", "--epochs=2",
        "--batch_size=32", "--backup_steps=5", "--num_filters=8",
        "--num_logistic_mix=2", "--num_samples=2",
    ]


@pytest.mark.slow
def test_killed_run_continues_from_its_backup(tmp_path):
    workdir = tmp_path / "run"
    metadata = workdir / "backup" / "training_metadata.json"
    process = subprocess.Popen(
        _train_command(workdir), cwd=ROOT, env=ENV,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    # Kill it in the middle of the second epoch, after a backup there.
    deadline = time.time() + 240
    killed_at = None
    while time.time() < deadline and process.poll() is None:
        try:
            state = json.loads(metadata.read_text())
        except (OSError, ValueError):
            state = None
        if state and state["epoch"] == 1 and state["batch"] > 0:
            process.send_signal(signal.SIGKILL)
            killed_at = state
            break
        time.sleep(0.02)
    process.wait()
    assert killed_at is not None, "the run ended before a mid-epoch backup"
    assert process.returncode == -signal.SIGKILL
    assert not (workdir / "metrics.json").exists()

    again = subprocess.run(
        _train_command(workdir), cwd=ROOT, env=ENV, capture_output=True,
        text=True, timeout=300,
    )
    assert again.returncode == 0, again.stderr[-3000:]
    assert "Continuing the interrupted run" in again.stdout
    # It starts again at the unfinished epoch (the second), not at the first.
    assert "Epoch 2/2" in again.stdout and "Epoch 1/2" not in again.stdout
    assert not (workdir / "backup").exists()
    metrics = json.loads((workdir / "metrics.json").read_text())
    assert np.isfinite(metrics["test_bits_per_dim"])
    names = sorted(os.listdir(workdir / "checkpoints"))
    assert names == ["epoch-0001.keras", "epoch-0002.keras"]
    # The optimizer state came back with the weights: its step count goes on
    # from the backup's (epoch 1 and `batch + 1` steps of epoch 2) through
    # the repeated epoch 2; a fresh optimizer would count one epoch only.
    from pixel_keras import training

    model = training.load_checkpoint(str(workdir / "checkpoints" / names[-1]))
    steps_per_epoch = -(-1500 // 32)
    iterations = int(model.optimizer.iterations.numpy())
    assert iterations >= 2 * steps_per_epoch + killed_at["batch"] + 1
    weights = np.concatenate([w.ravel() for w in model.get_weights()])
    assert np.all(np.isfinite(weights))


def _free_port():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _progress_bar_losses(output):
    """The loss of every epoch, as Keras' progress bar last shows it.

    Args:
        output: the stdout of a run of two epochs or more, with `verbose=1`
            (the bar redraws itself after "\\r"; log lines may come between).

    Returns:
        The losses as printed (strings), one for each "Epoch i/n" line.
    """
    losses = []
    for epoch in re.split(r"^Epoch \d+/\d+$", output, flags=re.MULTILINE)[1:]:
        shown = re.findall(r"/step - loss: ([-+.\deE]+)", epoch)
        losses.append(shown[-1] if shown else None)
    return losses


@pytest.mark.slow
def test_multi_worker_trains_in_sync_and_only_the_chief_writes(tmp_path):
    ports = [_free_port(), _free_port()]
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    workers = []
    for index in range(2):
        env = dict(
            ENV,
            TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}),
        )
        workers.append(
            subprocess.Popen(
                [sys.executable, "main.py", "train", "--strategy=multi_worker",
                 f"--workdir={tmp_path / f'worker{index}'}", "--epochs=2",
                 "--batch_size=32", "--num_filters=8", "--num_logistic_mix=2",
                 "--dropout=0.5", "--num_samples=2"],
                cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                text=True,
            )
        )
    outputs = []
    try:
        for worker in workers:
            output, _ = worker.communicate(timeout=300)
            assert worker.returncode == 0, output[-3000:]
            outputs.append(output)
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()

    def lines(output, prefix):
        return [line for line in output.splitlines() if line.startswith(prefix)]

    # Keras' progress bar reports both epochs, with the same losses (4
    # decimals) on both workers, and the final weights are the same.
    assert lines(outputs[0], "Epoch ") == lines(outputs[1], "Epoch ") == [
        "Epoch 1/2", "Epoch 2/2"
    ]
    losses = [_progress_bar_losses(output) for output in outputs]
    assert len(losses[0]) == 2 and None not in losses[0] and losses[0] == losses[1]
    fingerprints = [lines(output, "Weights fingerprint") for output in outputs]
    assert fingerprints[0] and fingerprints[0] == fingerprints[1]
    # Only the chief (worker 0) writes checkpoints, logs, samples, metrics.
    chief, other = tmp_path / "worker0", tmp_path / "worker1"
    assert sorted(os.listdir(chief / "checkpoints")) == [
        "epoch-0001.keras", "epoch-0002.keras"
    ]
    assert (chief / "metrics.json").exists() and (chief / "samples.png").exists()
    assert not (other / "checkpoints").exists() and not (other / "metrics.json").exists()
    assert not list(chief.glob("backup*")) and not list(other.glob("backup*"))


def test_backup_restores_optimizer_state_and_ema_weights(tmp_path):
    import keras

    from pixel_keras import data
    from pixel_keras.models import PixelCNNPlusPlus

    images, _ = data.images_and_labels(data.load("digits").train, limit=32)
    images = images.astype("float32")

    def compiled():
        model = PixelCNNPlusPlus.from_preset("tiny", num_filters=8, num_logistic_mix=2)
        model.compile(optimizer=keras.optimizers.Adam(1e-3, use_ema=True, ema_momentum=0.9))
        return model

    class Snapshot(keras.callbacks.Callback):
        # What the backup holds: the state at the last epoch's end (after
        # it, Keras' fit swaps the EMA values into the model).
        def on_epoch_end(self, epoch, logs=None):
            self.weights = [w.copy() for w in self.model.get_weights()]
            self.optimizer = [v.numpy().copy() for v in self.model.optimizer.variables]

    trained, snapshot = compiled(), Snapshot()
    backup = keras.callbacks.BackupAndRestore(str(tmp_path / "backup"), delete_checkpoint=False)
    trained.fit(images, batch_size=16, epochs=2, callbacks=[backup, snapshot], verbose=0)

    restored = compiled()
    backup = keras.callbacks.BackupAndRestore(str(tmp_path / "backup"), delete_checkpoint=False)
    backup.set_model(restored)
    backup.on_train_begin()
    assert restored._initial_epoch == 2
    # The EMA weights are optimizer variables, so the backup holds them.
    assert any("average" in variable.path for variable in restored.optimizer.variables)
    assert len(restored.optimizer.variables) == len(snapshot.optimizer)
    for mine, theirs in zip(restored.optimizer.variables, snapshot.optimizer):
        np.testing.assert_array_equal(mine.numpy(), theirs, err_msg=mine.path)
    for mine, theirs in zip(restored.get_weights(), snapshot.weights):
        np.testing.assert_array_equal(mine, theirs)


def test_chief_and_task_index_of_a_strategy_without_a_cluster():
    import tensorflow as tf

    for strategy in (tf.distribute.get_strategy(), distribute.make_strategy("one_device")):
        assert not multi_worker.is_multi_worker(strategy)
        assert multi_worker.is_chief(strategy) is True
        assert multi_worker.task_index(strategy) == 0


def test_fit_multi_worker_matches_fit_and_resumes_from_a_backup(tmp_path, capsys):
    # `fit_multi_worker` only needs a `tf.distribute` strategy: under the
    # default one it runs in this process, beside Keras' own `fit`. A small
    # dense model keeps it fast; the multi-process test trains PixelCNN++.
    import keras
    import tensorflow as tf

    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 4)).astype("float32")
    y = (x @ rng.normal(size=(4, 1))).astype("float32")
    strategy = tf.distribute.get_strategy()

    def compiled():
        keras.utils.set_random_seed(0)
        model = keras.Sequential(
            [keras.Input((4,)), keras.layers.Dense(8, activation="tanh"), keras.layers.Dense(1)]
        )
        model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
        return model

    class CopyBackup(keras.callbacks.Callback):
        # Keeps the backup written at the end of epoch 2 (of 3), as if the
        # run had been killed during epoch 3.
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                shutil.copytree(tmp_path / "backup", tmp_path / "killed")

    reference = compiled()
    expected = reference.fit(
        x, y, batch_size=8, epochs=3, shuffle=False, verbose=0,
        callbacks=[
            keras.callbacks.BackupAndRestore(str(tmp_path / "backup")), CopyBackup()
        ],
    ).history["loss"]
    batches = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)

    model = compiled()
    capsys.readouterr()
    history = multi_worker.fit_multi_worker(model, strategy, batches, epochs=3)
    output = capsys.readouterr().out
    # Keras' History and progress bar report it, as they do for `fit`.
    assert history is model.history
    assert history.epoch == [0, 1, 2]
    assert history.params == {"epochs": 3, "steps": 4, "verbose": 1}
    np.testing.assert_allclose(history.history["loss"], expected, rtol=1e-5)
    assert "Epoch 1/3" in output and "Epoch 3/3" in output
    shown = _progress_bar_losses(output)
    np.testing.assert_allclose(np.array(shown, float), history.history["loss"], atol=1e-4)
    fingerprint = multi_worker.fingerprint(model)
    assert f"Weights fingerprint (the same on every worker): {fingerprint}" in output
    for mine, theirs in zip(model.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(mine, theirs, rtol=1e-5, atol=1e-6)

    # Started again with the backup of the "killed" run, it restores the
    # state of epoch 2 and trains epoch 3 only, to the same loss.
    resumed = compiled()
    history = multi_worker.fit_multi_worker(
        resumed, strategy, batches, epochs=3,
        callbacks=[keras.callbacks.BackupAndRestore(str(tmp_path / "killed"))],
    )
    output = capsys.readouterr().out
    assert history.epoch == [2]
    np.testing.assert_allclose(history.history["loss"], expected[2:], rtol=1e-5)
    assert "Epoch 3/3" in output and "Epoch 1/3" not in output
    assert not (tmp_path / "killed").exists()
