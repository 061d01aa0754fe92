"""Training and evaluation: optimizer, input pipelines, checkpoints, fit.

EMA (Polyak) weights: an optimizer made with `ema_momentum` keeps an
exponential moving average of the trainable weights (Keras' `use_ema`). The
model trains on its raw weights; validation during `fit` uses the averages;
at the end of `train` the model holds the averages (as Keras' `fit` leaves
it). Checkpoints and backups hold the raw weights and, as optimizer
variables, the averages: `load_checkpoint` gives back the averages for
evaluation and sampling, or the raw weights and the averages to go on
training (`ema_weights=False`).
"""

import glob
import json
import math
import os
import re
import tempfile

import keras
import numpy as np
import tensorflow as tf

from pixel_keras import data as data_lib
from pixel_keras import images as images_lib
from pixel_keras import multi_worker
from pixel_keras.layers import weight_norm as weight_norm_lib

CHECKPOINT_DIR = "checkpoints"
BACKUP_DIR = "backup"
LOG_DIR = "logs"
_CHECKPOINT_PATTERN = re.compile(r"epoch-(\d+)\.keras$")


# Optimizer name -> (Keras class, default arguments).
OPTIMIZERS = {
    # PixelCNN++'s Adam: beta_1 0.95, beta_2 0.9995.
    "adam": (keras.optimizers.Adam, {"beta_1": 0.95, "beta_2": 0.9995}),
    # The PixelRNN paper's RMSProp, with Keras' defaults (rho 0.9).
    "rmsprop": (keras.optimizers.RMSprop, {}),
}


def make_optimizer(
    learning_rate=1e-3,
    decay_rate=0.999995,
    *,
    ema_momentum=None,
    name="adam",
    **options,
):
    """An optimizer with a per-step exponential learning-rate decay.

    The defaults are PixelCNN++'s: Adam, learning rate 1e-3 multiplied by
    0.999995 after every step, beta_1 0.95, beta_2 0.9995; the paper also
    evaluates and samples with EMA weights of momentum 0.9995.

    Args:
        learning_rate: float, the initial learning rate.
        decay_rate: float in `(0, 1]`, the factor applied after every step
            (1 keeps it constant).
        ema_momentum: float in `(0, 1)`, or None (the default) for no EMA.
            With it the optimizer keeps an exponential moving average of the
            weights (Keras' `use_ema`): after step t,
            `average = m * average + (1 - m) * weights` (the first step copies
            the weights).
        name: a key of `OPTIMIZERS`, `"adam"` or `"rmsprop"`.
        **options: more arguments of the Keras optimizer; they replace its
            defaults in `OPTIMIZERS` (for Adam, e.g. `beta_1`, `beta_2`).

    Returns:
        A `keras.optimizers.Optimizer`.

    Raises:
        ValueError: for an unknown `name` or an `ema_momentum` outside
            `(0, 1)`.
    """
    if name not in OPTIMIZERS:
        raise ValueError(
            f"Expected `name` in {sorted(OPTIMIZERS)}. Received: name={name!r}"
        )
    if ema_momentum is not None and not 0.0 < ema_momentum < 1.0:
        raise ValueError(
            "Expected `ema_momentum` in (0, 1), or None for no EMA. "
            f"Received: ema_momentum={ema_momentum}"
        )
    optimizer_class, defaults = OPTIMIZERS[name]
    schedule = keras.optimizers.schedules.ExponentialDecay(
        learning_rate, decay_steps=1, decay_rate=decay_rate
    )
    ema = {} if ema_momentum is None else {"use_ema": True, "ema_momentum": ema_momentum}
    return optimizer_class(schedule, **{**defaults, **options}, **ema)


def uses_ema(model):
    """Whether `model`'s optimizer keeps EMA weights (and has built them)."""
    optimizer = getattr(model, "optimizer", None)
    return bool(
        optimizer is not None
        and getattr(optimizer, "use_ema", False)
        and optimizer.built
    )


def use_ema_weights(model):
    """Assigns the optimizer's EMA values to the model's trainable weights.

    Does nothing for a model without EMA weights. The averages stay in the
    optimizer, so assigning them again changes nothing.

    Returns:
        Whether the model now holds the EMA weights.
    """
    if not uses_ema(model):
        return False
    model.optimizer.finalize_variable_values(model.trainable_variables)
    return True


class ValidateWithEMAWeights(keras.callbacks.Callback):
    """Validation during `fit` with the EMA weights; training with the raw.

    Copies the raw weights aside, assigns the averages for the evaluation
    and assigns the raw weights back after it, so the training steps,
    checkpoints and backups keep the raw weights exactly. (Keras'
    `SwapEMAWeights` swaps by adding and subtracting, which moves the raw
    weights by rounding.)
    """

    def __init__(self):
        super().__init__()
        self._raw = None

    def on_test_begin(self, logs=None):
        if uses_ema(self.model):
            self._raw = [variable.numpy() for variable in self.model.trainable_variables]
            use_ema_weights(self.model)

    def on_test_end(self, logs=None):
        if self._raw is not None:
            for variable, value in zip(self.model.trainable_variables, self._raw):
                variable.assign(value)
            self._raw = None


def initialize_weight_norm(model, images, labels=None):
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
        labels: int `(batch,)` labels of a class-conditional model, when
            `images` are images.

    Returns:
        The number of layers initialized.

    Raises:
        ValueError: if the model has no weight-normalized layer.
    """
    if isinstance(images, dict):
        inputs = images
    else:
        images = tf.cast(images, tf.float32)
        inputs = images
        if labels is not None:
            inputs = {"images": images, "labels": tf.cast(labels, tf.int32)}
    return len(weight_norm_lib.initialize(model, inputs))


def model_inputs(example, conditional):
    """Maps a dataset element `{"images", "labels"?}` to the model's inputs."""
    images = tf.cast(example["images"], tf.float32)
    if not conditional:
        return images
    if "labels" not in example:
        raise ValueError(
            "A class-conditional model needs a labelled dataset; this dataset "
            "has no labels."
        )
    return {"images": images, "labels": tf.cast(example["labels"], tf.int32)}


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


def checkpoints(workdir):
    """`(epoch, path)` of every checkpoint in `workdir`, oldest first."""
    found = []
    for path in glob.glob(os.path.join(workdir, CHECKPOINT_DIR, "epoch-*.keras")):
        match = _CHECKPOINT_PATTERN.search(path)
        if match:
            found.append((int(match.group(1)), path))
    return sorted(found)


def has_backup(workdir):
    """Whether `workdir` holds the backup of a run that did not finish (the
    chief's `backup/`, or another worker's `backup-worker-N/`)."""
    return bool(glob.glob(os.path.join(workdir, BACKUP_DIR + "*")))


def latest_checkpoint(workdir):
    """`(epoch, path)` of the newest checkpoint in `workdir`, or None."""
    found = checkpoints(workdir)
    return found[-1] if found else None


def load_checkpoint(path, ema_weights=True):
    """Loads a saved model (weights, optimizer state and architecture).

    Args:
        path: a `.keras` checkpoint.
        ema_weights: when the checkpoint's optimizer keeps EMA weights, give
            the model those (to evaluate, sample or export it); False keeps
            the raw weights it trained with (to resume training: the
            optimizer keeps the averages either way).

    Returns:
        The compiled model.
    """
    # Importing the models registers their classes for deserialization.
    import pixel_keras.models  # noqa: F401

    if not os.path.isfile(path):
        raise FileNotFoundError(f"No checkpoint at {path!r}.")
    model = keras.saving.load_model(path)
    if ema_weights:
        use_ema_weights(model)
    return model


class AtomicModelCheckpoint(keras.callbacks.Callback):
    """Saves the whole model (with optimizer state) after every epoch.

    Keras' `ModelCheckpoint` writes the `.keras` file in place, so a job
    killed while saving leaves a corrupt file; this callback writes to a
    temporary file in the same folder and renames it, which is atomic.

    Args:
        workdir: run folder; files go to `workdir/checkpoints/epoch-NNNN.keras`.
        max_to_keep: the newest checkpoints to keep; older ones are removed.
    """

    def __init__(self, workdir, max_to_keep=3):
        super().__init__()
        self.directory = os.path.join(workdir, CHECKPOINT_DIR)
        self.max_to_keep = max_to_keep

    def on_epoch_end(self, epoch, logs=None):
        os.makedirs(self.directory, exist_ok=True)
        path = os.path.join(self.directory, f"epoch-{epoch + 1:04d}.keras")
        handle, temporary = tempfile.mkstemp(
            dir=self.directory, prefix=".tmp-", suffix=".keras"
        )
        os.close(handle)
        try:
            self.model.save(temporary, overwrite=True)
            os.replace(temporary, path)
        finally:
            if os.path.exists(temporary):
                os.remove(temporary)
        for _, old in checkpoints(os.path.dirname(self.directory))[: -self.max_to_keep]:
            os.remove(old)


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
    chief = not multi_worker.is_multi_worker(strategy) or multi_worker.is_chief()
    # Every worker backs up its own (identical) state: restoring needs no
    # shared storage. Only the chief writes checkpoints and logs.
    backup_dir = BACKUP_DIR if chief else f"{BACKUP_DIR}-worker-{multi_worker.task_index()}"
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
                AtomicModelCheckpoint(workdir),
                keras.callbacks.TensorBoard(log_dir=os.path.join(workdir, LOG_DIR)),
            ]
            if chief
            else []
        ),
        ValidateWithEMAWeights(),
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
    use_ema_weights(model)
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

    @tf.function(reduce_retracing=True)
    def per_pixel_log_prob(inputs):
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


def write_json(path, values):
    """Writes a JSON file atomically."""
    text = json.dumps(values, indent=2, sort_keys=True) + "\n"
    images_lib.write_file_atomically(path, text.encode("utf-8"))
