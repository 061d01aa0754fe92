"""Checkpoints and backups of a run: where they are, checking, loading,
atomic saving.

A run's folder holds `checkpoints/epoch-NNNN.keras` (the whole model with its
optimizer state, written atomically after every epoch, the newest kept),
`backup/` while it runs (Keras' `BackupAndRestore`: a killed run continues
from it) and `logs/` (TensorBoard).

A checkpoint is *damaged* when it is not the whole zip file `Model.save`
wrote (a disk fault, a copy cut short): `checkpoint_problem` says why, without
TensorFlow. `load_latest_checkpoint` skips damaged checkpoints (and any Keras
cannot load) for the newest one that loads, with a warning. Nothing here
deletes or overwrites a damaged file: `AtomicModelCheckpoint` renames one in
its way to `epoch-NNNN.keras.damaged-<n>`, bytes intact, and prunes intact
checkpoints only.
"""

import glob
import json
import logging
import os
import re
import tempfile
import zipfile
import zlib

import keras

# Imported for its side effect too: the model classes register themselves
# for `keras.saving.load_model`.
from pixel_keras import models  # noqa: F401
from pixel_keras.training import ema

CHECKPOINT_DIR = "checkpoints"
BACKUP_DIR = "backup"
LOG_DIR = "logs"
DAMAGED_SUFFIX = ".damaged-"
_CHECKPOINT_PATTERN = re.compile(r"epoch-(\d+)\.keras$")
# The members of every `.keras` file: the architecture, and the weights
# (`model.weights.h5`, or another format of a later Keras).
_CONFIG_MEMBER = "config.json"
_WEIGHTS_PREFIX = "model.weights."

logger = logging.getLogger(__name__)


class CheckpointError(ValueError):
    """A checkpoint file that Keras cannot load.

    Attributes:
        path: the file.
        reason: why it cannot be loaded.
    """

    verdict = "could not be loaded by Keras"

    def __init__(self, path, reason):
        self.path = path
        self.reason = reason
        super().__init__(self._message())

    def _message(self):
        return (
            f"Checkpoint {self.path!r} {self.verdict}: {self.reason}. Expected a "
            "whole `.keras` file of a pixel_keras model, as `Model.save` writes it; "
            "the file is left as it is."
        )

    def describe(self):
        """One clause for a list of failures: `'path' is damaged or truncated (reason)`."""
        return f"{self.path!r} {self.verdict} ({self.reason})"


class DamagedCheckpointError(CheckpointError):
    """A checkpoint that is not the whole zip file `Model.save` wrote."""

    verdict = "is damaged or truncated"


class NoIntactCheckpointError(CheckpointError):
    """A run's checkpoints are all damaged or unloadable.

    Attributes:
        path: the checkpoint folder.
        failures: the `CheckpointError` of every file tried, newest first.
    """

    verdict = "holds no intact checkpoint"

    def __init__(self, directory, failures):
        self.failures = list(failures)
        super().__init__(
            directory, "; ".join(failure.describe() for failure in self.failures)
        )

    def _message(self):
        return (
            f"No intact checkpoint in {self.path!r}: tried {len(self.failures)}, "
            f"newest first: {self.reason}. Expected at least one whole `.keras` "
            "file; the files are left as they are."
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
    """`(epoch, path)` of the newest checkpoint in `workdir`, or None.

    The newest by name, intact or not: `load_latest_checkpoint` loads the
    newest intact one.
    """
    found = checkpoints(workdir)
    return found[-1] if found else None


def checkpoint_problem(path):
    """Why the `.keras` file at `path` is damaged, or None when it is whole.

    Reads the file once, without TensorFlow: a zip archive whose members all
    match their CRC-32, with a JSON `config.json` and the model's weights. A
    file cut short (its zip directory, at the end, is missing) or with
    changed bytes fails; whether Keras can build the model from it, only
    loading it tells (`load_checkpoint`).

    Args:
        path: a `.keras` file.

    Returns:
        None, or a string that says what is wrong.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            bad_member = archive.testzip()
            if bad_member is not None:
                return f"its member {bad_member!r} fails its CRC-32 check"
            names = archive.namelist()
            if _CONFIG_MEMBER not in names or not any(
                name.startswith(_WEIGHTS_PREFIX) for name in names
            ):
                return (
                    f"it holds {names}, expected {_CONFIG_MEMBER!r} and "
                    f"'{_WEIGHTS_PREFIX}*'"
                )
            config = json.loads(archive.read(_CONFIG_MEMBER))
    # Every way reading a cut or changed archive fails (JSON and Unicode
    # errors are ValueErrors).
    except (OSError, EOFError, ValueError, RuntimeError, NotImplementedError,
            zipfile.BadZipFile, zlib.error) as error:
        return f"{type(error).__name__}: {error}"
    if not isinstance(config, dict):
        return f"its {_CONFIG_MEMBER} holds a {type(config).__name__}, expected an object"
    return None


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

    Raises:
        FileNotFoundError: if there is no file at `path`.
        DamagedCheckpointError: if the file is not a whole `.keras` zip
            (`checkpoint_problem`); Keras would report "File not found".
        CheckpointError: if Keras cannot load the file.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No checkpoint at {path!r}; expected a `.keras` file.")
    problem = checkpoint_problem(path)
    if problem is not None:
        raise DamagedCheckpointError(path, problem)
    try:
        model = keras.saving.load_model(path)
    except MemoryError:
        raise
    # Loading is the last check of a file: whatever it raises (a class Keras
    # cannot find, weights that do not fit) makes this file unusable.
    except Exception as error:
        raise CheckpointError(path, f"{type(error).__name__}: {error}") from error
    if ema_weights:
        ema.use_ema_weights(model)
    return model


def load_latest_checkpoint(workdir, ema_weights=True):
    """Loads the newest checkpoint in `workdir` that loads.

    A damaged newer checkpoint (or one Keras cannot load) is skipped with a
    logged warning that names it and says why; it is left as it is.

    Args:
        workdir: run folder.
        ema_weights: as in `load_checkpoint`.

    Returns:
        `(epoch, path, model)`, or None when `workdir` has no checkpoint.

    Raises:
        NoIntactCheckpointError: when no checkpoint loads; it names every file
            tried and why each failed.
    """
    found = checkpoints(workdir)
    if not found:
        return None
    failures = []
    for epoch, path in reversed(found):
        try:
            model = load_checkpoint(path, ema_weights=ema_weights)
        except CheckpointError as error:
            failures.append(error)
            continue
        if failures:
            logger.warning(
                "The newest %s unusable: %s. Using %r (epoch %d), the newest intact "
                "checkpoint; no file was changed or deleted.",
                "checkpoint is" if len(failures) == 1 else f"{len(failures)} checkpoints are",
                "; ".join(failure.describe() for failure in failures),
                path,
                epoch,
            )
        return epoch, path, model
    raise NoIntactCheckpointError(os.path.join(workdir, CHECKPOINT_DIR), failures)


def _aside_path(path):
    """`path.damaged-<n>` with the smallest unused n."""
    number = 1
    while os.path.lexists(f"{path}{DAMAGED_SUFFIX}{number}"):
        number += 1
    return f"{path}{DAMAGED_SUFFIX}{number}"


class AtomicModelCheckpoint(keras.callbacks.Callback):
    """Saves the whole model (with optimizer state) after every epoch.

    Keras' `ModelCheckpoint` writes the `.keras` file in place, so a job
    killed while saving leaves a corrupt file; this callback writes to a
    temporary file in the same folder and renames it, which is atomic.

    It never deletes or overwrites a damaged file. A run resumed from epoch
    29 because `epoch-0030.keras` is damaged writes epoch 30 again: the
    damaged file in the way is first renamed to
    `epoch-0030.keras.damaged-<n>` (a rename, its bytes kept; n counts from
    1), which no loader lists. An intact file in the way (the same epoch,
    trained again after a backup) is replaced. Pruning removes only intact
    checkpoints (`checkpoint_problem`): a damaged one neither counts as kept
    nor is removed.

    Args:
        workdir: run folder; files go to `workdir/checkpoints/epoch-NNNN.keras`.
        max_to_keep: the newest intact checkpoints to keep; older intact ones
            are removed.
    """

    def __init__(self, workdir, max_to_keep=3):
        super().__init__()
        self.workdir = workdir
        self.directory = os.path.join(workdir, CHECKPOINT_DIR)
        self.max_to_keep = max_to_keep
        # Files found intact, by (size, modification time): each is read
        # once, not at every pruning.
        self._intact = {}

    def _is_intact(self, path):
        status = os.stat(path)
        key = (status.st_size, status.st_mtime_ns)
        if self._intact.get(path) == key:
            return True
        if checkpoint_problem(path) is not None:
            return False
        self._intact[path] = key
        return True

    def _move_aside_if_damaged(self, path):
        if not os.path.lexists(path):
            return
        problem = checkpoint_problem(path)
        if problem is None:
            return
        aside = _aside_path(path)
        os.rename(path, aside)
        logger.warning(
            "Checkpoint %r is damaged or truncated (%s); renamed it to %r, its "
            "bytes kept, to write this epoch's checkpoint.",
            path,
            problem,
            aside,
        )

    def on_epoch_end(self, epoch, logs=None):
        os.makedirs(self.directory, exist_ok=True)
        path = os.path.join(self.directory, f"epoch-{epoch + 1:04d}.keras")
        handle, temporary = tempfile.mkstemp(
            dir=self.directory, prefix=".tmp-", suffix=".keras"
        )
        os.close(handle)
        try:
            self.model.save(temporary, overwrite=True)
            self._move_aside_if_damaged(path)
            os.replace(temporary, path)
            status = os.stat(path)
            self._intact[path] = (status.st_size, status.st_mtime_ns)
        finally:
            if os.path.exists(temporary):
                os.remove(temporary)
        self._prune()

    def _prune(self):
        kept = 0
        for _, path in reversed(checkpoints(self.workdir)):
            if not self._is_intact(path):
                continue
            kept += 1
            if kept > self.max_to_keep:
                os.remove(path)
                self._intact.pop(path, None)
