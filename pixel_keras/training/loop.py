"""Training and evaluation: input pipelines, weight-norm init, fit, exact
evaluation.

`train` runs Keras' `fit` (or, under `MultiWorkerMirroredStrategy`, where
`fit` fails, `multi_worker.fit_multi_worker`) with the callbacks a run
needs: backups that a killed run continues from, atomic checkpoints,
TensorBoard, and validation with the EMA weights (`ema.py`).
"""

import math
import os

import keras
import numpy as np
import tensorflow as tf

from pixel_keras import data as data_lib
from pixel_keras.conditioning import CONDITION
from pixel_keras.layers import weight_norm as weight_norm_lib
from pixel_keras.training import checkpointing
from pixel_keras.training import ema
from pixel_keras.training import multi_worker


def initialize_weight_norm(model, images, condition=None, *, labels=None):
    """Data-dependent initialization of a weight-normalized model.

    Runs the model once on a real batch (dropout off) and sets, layer by
    layer in forward order, each weight-normalized layer's scale `g` and
    bias so that its outputs on the batch have zero mean and unit variance
    per channel; each layer is initialized on the already normalized outputs
    of the layers before it (see `pixel_keras.layers.weight_norm`). Call it
    once, before the first training step of a fresh model, not when
    resuming.

    Args:
        model: a model built with `weight_norm=True`.
        images: `(batch, height, width, channels)` images, or a batch of the
            model's inputs as the training pipeline gives them (a dict for a
            conditional model).
        condition: the condition of a conditional model (class labels or
            values), when `images` are images.
        labels: deprecated name of `condition`.

    Returns:
        The number of layers initialized.

    Raises:
        ValueError: if the model has no weight-normalized layer.
    """
    if isinstance(images, dict):
        inputs = images
    else:
        condition = model.condition_spec.resolve(condition, labels)
        inputs = model.make_inputs(images, condition)
    return len(weight_norm_lib.initialize(model, inputs))


def model_inputs(example, conditional):
    """Maps a dataset element `{"images", "labels"?}` to the model's inputs:
    the images, or `{"images", "condition"}` with the dataset's labels as the
    condition of a class-conditional model (`conditional`)."""
    images = tf.cast(example["images"], tf.float32)
    if not conditional:
        return images
    if "labels" not in example:
        raise ValueError(
            "A class-conditional model needs a labelled dataset; this dataset "
            "has no labels."
        )
    return {"images": images, CONDITION: tf.cast(example["labels"], tf.int32)}


def input_pipelines(dataset, batch_size, conditional, seed=0):
    """Batched train (shuffled) and test pipelines of model inputs."""
    def to_inputs(example):
        return model_inputs(example, conditional)

    train = data_lib.batched(dataset.train, batch_size, shuffle=True, seed=seed)
    test = data_lib.batched(dataset.test, batch_size)
    # Under a multi-worker strategy each worker keeps its share of every
    # batch: the data come from memory or TFDS, not from one file per worker.
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.DATA
    )
    return (
        train.map(to_inputs, num_parallel_calls=tf.data.AUTOTUNE).with_options(options),
        test.map(to_inputs, num_parallel_calls=tf.data.AUTOTUNE).with_options(options),
    )


def train(
    model,
    dataset,
    workdir,
    epochs,
    batch_size,
    seed=0,
    initial_epoch=0,
    verbose=1,
    extra_callbacks=(),
    backup_steps=None,
):
    """Trains `model` on `dataset`, checkpointing into `workdir`.

    Args:
        model: a compiled pixel_keras model.
        dataset: a `pixel_keras.data.ImageDataset`.
        workdir: run folder for checkpoints and TensorBoard logs.
        epochs: index of the last epoch to train (as in `keras.Model.fit`).
        batch_size: global batch size.
        seed: shuffling seed.
        initial_epoch: epoch to resume from.
        verbose: Keras verbosity (1 shows a progress bar).
        extra_callbacks: more Keras callbacks.
        backup_steps: back up the weights, optimizer state and epoch to
            `workdir/backup` every this many steps (None: every epoch); a
            killed run started again continues from there. The backup is
            removed when training ends.

    Returns:
        The `keras.callbacks.History` of `fit`. When the optimizer keeps EMA
        weights the model then holds them, and validation used them.
    """
    conditional = getattr(model, "num_classes", None) is not None
    train_data, test_data = input_pipelines(dataset, batch_size, conditional, seed)
    strategy = model.distribute_strategy
    chief = multi_worker.is_chief(strategy)
    # Every worker backs up its own (identical) state: restoring needs no
    # shared storage. Only the chief writes checkpoints and logs.
    worker = multi_worker.task_index(strategy)
    backup_dir = checkpointing.BACKUP_DIR
    if not chief:
        backup_dir = f"{backup_dir}-worker-{worker}"
    callbacks = [
        # Restores a killed run (weights, optimizer state, epoch) before the
        # first step. It keeps the previous backup beside the newest, so a
        # kill while writing one falls back to the other.
        keras.callbacks.BackupAndRestore(
            os.path.join(workdir, backup_dir),
            save_freq=backup_steps or "epoch",
            double_checkpoint=True,
        ),
        *(
            [
                checkpointing.AtomicModelCheckpoint(workdir),
                keras.callbacks.TensorBoard(
                    log_dir=os.path.join(workdir, checkpointing.LOG_DIR)
                ),
            ]
            if chief
            else []
        ),
        ema.ValidateWithEMAWeights(),
        # A NaN loss ends the run with an error before any checkpoint is
        # written from it (under XLA it is also how a batch of invalid pixel
        # values is reported: `AutoregressiveImageModel.train_step`).
        keras.callbacks.TerminateOnNaN(raise_error=True),
        *extra_callbacks,
    ]
    if multi_worker.is_multi_worker(strategy):
        history = multi_worker.fit_multi_worker(
            model,
            strategy,
            train_data,
            epochs,
            callbacks=callbacks,
            initial_epoch=initial_epoch,
            verbose=verbose,
        )
    else:
        history = model.fit(
            train_data,
            validation_data=test_data,
            epochs=epochs,
            initial_epoch=initial_epoch,
            callbacks=callbacks,
            verbose=verbose,
            shuffle=False,  # the pipeline shuffles
        )
    # Keras' fit ends by assigning the EMA values; the multi-worker loop and
    # a run with no epoch left to train do not.
    ema.use_ema_weights(model)
    return history


def evaluate(model, examples, batch_size=256):
    """Exact discrete negative log-likelihood over a whole dataset.

    Args:
        model: a pixel_keras model.
        examples: un-batched `tf.data.Dataset` of `{"images", "labels"?}`.
        batch_size: evaluation batch size (does not change the result).

    Returns:
        A dict with `bits_per_dim` (mean over every dimension of every image),
        `nats_per_image`, `num_images`, and `nll_bits_per_pixel_map` (the mean
        NLL of each pixel position in bits, summed over channels, `(H, W)`).
    """
    conditional = getattr(model, "num_classes", None) is not None
    height, width, channels = model.image_shape
    total_nats = 0.0
    pixel_nats = np.zeros([height, width], np.float64)
    count = 0

    @tf.function(reduce_retracing=True, autograph=False)
    def per_pixel_log_prob(inputs):
        inputs = model.check_inputs(inputs)
        images = inputs["images"] if conditional else inputs
        outputs = model(inputs, training=False)
        return model.output_distribution(outputs).log_prob(images)

    for batch in data_lib.batched(examples, batch_size):
        log_probs = per_pixel_log_prob(model_inputs(batch, conditional)).numpy()
        total_nats -= log_probs.astype(np.float64).sum()
        pixel_nats -= log_probs.astype(np.float64).sum(axis=0)
        count += log_probs.shape[0]
    if count == 0:
        raise ValueError("Cannot evaluate on an empty dataset.")
    num_dims = height * width * channels
    return {
        "bits_per_dim": total_nats / (count * num_dims * math.log(2.0)),
        "nats_per_image": total_nats / count,
        "num_images": count,
        "nll_bits_per_pixel_map": pixel_nats / (count * math.log(2.0)),
    }
