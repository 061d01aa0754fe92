"""Training under `MultiWorkerMirroredStrategy`, where Keras' `fit` fails.

Keras 3.15's `fit` cannot run under a multi-worker strategy: its symbolic
build reduces the nested batch of `PerReplica` values, and its scalar logs
are reduced on axis 0 (tests/training/test_upstream_keras_multi_worker_fit.py keeps
a reproduction, a strict xfail that turns red once Keras is fixed and this
module can go). `fit_multi_worker` trains the same model with the same loss:
a `tf.function` step that runs `strategy.run` on a distributed dataset,
`model.compute_loss`, and the model's optimizer, which all-reduces the
gradients across every replica of every worker. Callbacks run on every
worker through Keras' `CallbackList`, with its `History` and progress bar,
as in `fit`; those that write files belong to the chief only (`is_chief`).
Everything is public API but the epoch a backup restores (`_restored_epoch`).
"""

import hashlib

import keras
import tensorflow as tf

__all__ = ["fingerprint", "fit_multi_worker", "is_chief", "is_multi_worker", "task_index"]


def is_multi_worker(strategy):
    """Whether `strategy` is a `tf.distribute.MultiWorkerMirroredStrategy`.

    Args:
        strategy: a `tf.distribute.Strategy`.

    Returns:
        True for a multi-worker strategy, False for any other.
    """
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


def is_chief(strategy):
    """Whether this process is the chief of `strategy`'s cluster.

    The chief is the `"chief"` task, or worker 0 when the cluster has none.
    It alone writes checkpoints, logs and outputs.

    Args:
        strategy: a `tf.distribute.Strategy`.

    Returns:
        True for the chief, and for a strategy that is not multi-worker.
    """
    if not is_multi_worker(strategy):
        return True
    # The strategy decided this when it joined the cluster, from its
    # `cluster_resolver` (`multi_worker_util.is_chief(cluster_spec,
    # task_type, task_id)`, private to TensorFlow); `should_checkpoint` is
    # the public `tf.distribute.StrategyExtended` property that reports it.
    return bool(strategy.extended.should_checkpoint)


def task_index(strategy):
    """This process's index among the tasks of its type in the cluster.

    Args:
        strategy: a `tf.distribute.Strategy`.

    Returns:
        The `task_id` of the strategy's `cluster_resolver`; 0 for a strategy
        that is not multi-worker, or one without a cluster.
    """
    if not is_multi_worker(strategy):
        return 0
    return int(strategy.cluster_resolver.task_id or 0)


def _restored_epoch(model):
    """The epoch that `keras.callbacks.BackupAndRestore` restored, if any.

    Keras 3.15 has no public route to it: `BackupAndRestore.on_train_begin`
    writes it to the private `model._initial_epoch`, which Keras' own `fit`
    reads back (`initial_epoch = self._initial_epoch or initial_epoch`). This
    is the one place that reads it.

    Args:
        model: the model the callback was set on.

    Returns:
        The epoch to resume from, or None when nothing was restored.
    """
    return getattr(model, "_initial_epoch", None)


def _train_step(model, strategy):
    """Builds the training step of `model` under `strategy`.

    Args:
        model: a compiled model, its optimizer built in `strategy.scope()`.
        strategy: its `tf.distribute` strategy.

    Returns:
        A `tf.function` that trains on one distributed global batch and
        returns its mean loss (the sum of every replica's share).
    """
    optimizer = model.optimizer

    def replica_step(data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        # A pixel_keras model's batch is checked as in `fit`'s step, before
        # anything reads it (the loop also trains plain Keras models).
        if hasattr(model, "check_inputs"):
            x = model.check_inputs(x)
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
        # Every update waits for the checks (the step count reads no data).
        with tf.control_dependencies(tf.nest.flatten(x)):
            optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        return loss

    @tf.function(autograph=False)
    def train_step(batch):
        losses = strategy.run(replica_step, args=(batch,))
        return strategy.reduce(tf.distribute.ReduceOp.SUM, losses, axis=None)

    return train_step


def fit_multi_worker(model, strategy, dataset, epochs, callbacks=(), initial_epoch=0, verbose=1):
    """Trains a compiled model under `strategy`, like `model.fit(dataset)`.

    Every worker must call it with the same arguments (and the same input
    pipeline, shuffled with the same seed): each step runs collective ops
    that all workers join. The callbacks run as in `fit`, through a
    `keras.callbacks.CallbackList` with Keras' `History` and progress bar.

    Args:
        model: a model built and compiled inside `strategy.scope()`.
        strategy: its `tf.distribute` strategy.
        dataset: a `tf.data.Dataset` of global batches of model inputs (the
            images are the targets); each worker keeps its share of every
            batch (DATA auto-shard policy, set by `training.input_pipelines`).
        epochs: index of the last epoch (as in `fit`).
        callbacks: Keras callbacks, run on every worker.
        initial_epoch: epoch to start from; a `BackupAndRestore` callback
            replaces it with the epoch of its backup, as in `fit`.
        verbose: as in `fit`: 0 silent, 1 progress bar, 2 one line per
            epoch. When not 0, a weights fingerprint is printed at the end.

    Returns:
        The `keras.callbacks.History` (`model.history`), with the mean loss
        of every epoch.
    """
    with strategy.scope():
        # The optimizer's slots must exist before the step is traced; made
        # inside `strategy.run` they would be per-replica and unsynced.
        if not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
    distributed = strategy.experimental_distribute_dataset(dataset)
    train_step = _train_step(model, strategy)
    # Steps per epoch for the progress bar: one per global batch on every
    # worker (None when unknown; the progress bar then learns it).
    steps = int(dataset.cardinality())
    callback_list = keras.callbacks.CallbackList(
        list(callbacks),
        add_history=True,
        add_progbar=verbose != 0,
        model=model,
        epochs=epochs,
        steps=steps if steps >= 0 else None,
        verbose=verbose,
    )
    model.stop_training = False
    callback_list.on_train_begin()
    # `BackupAndRestore.on_train_begin` has restored the weights and the
    # optimizer state; the epoch to go on from comes the way `fit` gets it.
    initial_epoch = _restored_epoch(model) or initial_epoch
    epoch_logs = None
    for epoch in range(initial_epoch, epochs):
        callback_list.on_epoch_begin(epoch)
        total, step = 0.0, 0
        # `next` on a distributed iterator agrees across workers on where
        # the data end, so every worker stops at the same step.
        for batch in distributed:
            callback_list.on_train_batch_begin(step)
            total += float(train_step(batch))
            step += 1
            # As in `fit`, whose loss metric is a running mean, the batch
            # logs hold the epoch's mean loss so far.
            callback_list.on_train_batch_end(step - 1, {"loss": total / step})
        epoch_logs = {"loss": total / max(step, 1)}
        callback_list.on_epoch_end(epoch, epoch_logs)
        if model.stop_training:
            break
    callback_list.on_train_end(logs=epoch_logs)
    if verbose:
        # Every worker prints it: equal fingerprints show they stayed in sync.
        print(f"Weights fingerprint (the same on every worker): {fingerprint(model)}")
    return model.history


def fingerprint(model):
    """A short SHA-256 of all the model's weights, to compare workers."""
    digest = hashlib.sha256()
    for weight in model.get_weights():
        digest.update(weight.tobytes())
    return digest.hexdigest()[:16]
