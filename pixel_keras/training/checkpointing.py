"""Checkpoints and backups of a run: where they are, loading, atomic saving.

A run's folder holds `checkpoints/epoch-NNNN.keras` (the whole model with its
optimizer state, written atomically after every epoch, the newest kept),
`backup/` while it runs (Keras' `BackupAndRestore`: a killed run continues
from it) and `logs/` (TensorBoard).
"""

import glob
import os
import re
import tempfile

import keras

# Imported for its side effect too: the model classes register themselves
# for `keras.saving.load_model`.
from pixel_keras import models  # noqa: F401
from pixel_keras.training import ema

CHECKPOINT_DIR = "checkpoints"
BACKUP_DIR = "backup"
LOG_DIR = "logs"
_CHECKPOINT_PATTERN = re.compile(r"epoch-(\d+)\.keras$")


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
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No checkpoint at {path!r}.")
    model = keras.saving.load_model(path)
    if ema_weights:
        ema.use_ema_weights(model)
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
