"""Training under `MultiWorkerMirroredStrategy`, where Keras' `fit` fails.

Keras 3.15's `fit` cannot run under a multi-worker strategy: its symbolic
build reduces the nested batch of `PerReplica` values, and its scalar logs
are reduced on axis 0 (tests/test_distribute.py keeps a reproduction, to be
dropped when Keras fixes it). `fit_multi_worker` trains the same model with
the same loss through public APIs only: a `tf.function` step that runs
`strategy.run` on a distributed dataset, `model.compute_loss`, and the
model's optimizer, which all-reduces the gradients across every replica of
every worker. Callbacks run on every worker; those that write files belong
to the chief only (`is_chief`).
"""

import hashlib
import json
import os
import time

import keras
import tensorflow as tf


def is_multi_worker(strategy):
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


def is_chief():
    """Whether this process is the chief of its `TF_CONFIG` cluster: the
    `chief` task, or worker 0 when there is none; True without `TF_CONFIG`."""
    config = json.loads(os.environ.get("TF_CONFIG") or "{}")
    task = config.get("task", {})
    if "type" not in task:
        return True
    if "chief" in config.get("cluster", {}):
        return task["type"] == "chief"
    return task["type"] == "worker" and task.get("index") == 0


def task_index():
    """This worker's index in `TF_CONFIG` (0 without it)."""
    config = json.loads(os.environ.get("TF_CONFIG") or "{}")
    return int(config.get("task", {}).get("index", 0))


def _train_step(model, strategy):
    optimizer = model.optimizer

    def replica_step(data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape() as tape:
            y_pred = model(x, training=True)
            # The model's loss is a `sum_over_batch_size` Keras loss: under a
            # strategy it divides by (local batch x replicas), the global
            # batch, so the gradients sum to the global-batch mean's.
            loss = model.compute_loss(
                x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=True
            )
            scaled = optimizer.scale_loss(loss)
        gradients = tape.gradient(scaled, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        return loss

    @tf.function
    def train_step(batch):
        losses = strategy.run(replica_step, args=(batch,))
        return strategy.reduce(tf.distribute.ReduceOp.SUM, losses, axis=None)

    return train_step


def fit_multi_worker(model, strategy, dataset, epochs, callbacks=(), initial_epoch=0, verbose=1):
    """Trains a compiled model under `strategy`, like `model.fit(dataset)`.

    Every worker must call it with the same arguments (and the same input
    pipeline, shuffled with the same seed): each step runs collective ops
    that all workers join.

    Args:
        model: a model built and compiled inside `strategy.scope()`.
        strategy: its `tf.distribute` strategy.
        dataset: a `tf.data.Dataset` of global batches of model inputs (the
            images are the targets); each worker keeps its share of every
            batch (DATA auto-shard policy, set by `training.input_pipelines`).
        epochs: index of the last epoch (as in `fit`).
        callbacks: Keras callbacks, run on every worker.
        initial_epoch: epoch to start from; a `BackupAndRestore` callback may
            move it to the epoch of its backup.
        verbose: 0 silent, 1 one line per epoch.

    Returns:
        A `keras.callbacks.History` with the mean loss of every epoch.
    """
    with strategy.scope():
        # The optimizer's slots must exist before the step is traced; made
        # inside `strategy.run` they would be per-replica and unsynced.
        if not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
    distributed = strategy.experimental_distribute_dataset(dataset)
    train_step = _train_step(model, strategy)
    history = keras.callbacks.History()
    callback_list = keras.callbacks.CallbackList(
        [*callbacks, history], model=model, epochs=epochs, verbose=0
    )
    model.stop_training = False
    callback_list.on_train_begin()
    # `BackupAndRestore.on_train_begin` restores the weights and records the
    # epoch to resume from where Keras' own `fit` reads it.
    initial_epoch = max(initial_epoch, getattr(model, "_initial_epoch", None) or 0)
    for epoch in range(initial_epoch, epochs):
        callback_list.on_epoch_begin(epoch)
        started, total, steps = time.time(), 0.0, 0
        # `next` on a distributed iterator agrees across workers on where
        # the data end, so every worker stops at the same step.
        for batch in distributed:
            callback_list.on_train_batch_begin(steps)
            loss = float(train_step(batch))
            total, steps = total + loss, steps + 1
            callback_list.on_train_batch_end(steps - 1, {"loss": loss})
        logs = {"loss": total / max(steps, 1)}
        callback_list.on_epoch_end(epoch, logs)
        if verbose:
            print(
                f"Epoch {epoch + 1}/{epochs}: loss {logs['loss']:.6f} "
                f"({steps} steps, {time.time() - started:.1f}s)",
                flush=True,
            )
        if model.stop_training:
            break
    callback_list.on_train_end()
    if verbose:
        print(f"Weights fingerprint (the same on every worker): {fingerprint(model)}")
    return history


def fingerprint(model):
    """A short SHA-256 of all the model's weights, to compare workers."""
    digest = hashlib.sha256()
    for weight in model.get_weights():
        digest.update(weight.tobytes())
    return digest.hexdigest()[:16]
