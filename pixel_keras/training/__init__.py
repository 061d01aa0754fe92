"""Training: optimizers, EMA weights, checkpoints, the fit/eval loop, and
`tf.distribute` strategies.

- the papers' optimizers (`make_optimizer`, `FusedAdam`), re-exported from
  `pixel_keras.optimizers`.
- `ema.py`: EMA (Polyak) weights in and out of a model (`ema_weights`).
- `checkpointing.py`: finding, loading and atomically saving checkpoints.
- `loop.py`: input pipelines, weight-norm init, `train`, `evaluate`.
- `distribute.py`: a strategy by name (`make_strategy`).
- `multi_worker.py`: the training loop under `MultiWorkerMirroredStrategy`.
"""

from pixel_keras.optimizers import FusedAdam
from pixel_keras.optimizers import OPTIMIZERS
from pixel_keras.optimizers import base_optimizer
from pixel_keras.optimizers import make_optimizer
from pixel_keras.optimizers import optimizer_name
from pixel_keras.training import distribute
from pixel_keras.training import multi_worker
from pixel_keras.training.checkpointing import BACKUP_DIR
from pixel_keras.training.checkpointing import CHECKPOINT_DIR
from pixel_keras.training.checkpointing import LOG_DIR
from pixel_keras.training.checkpointing import AtomicModelCheckpoint
from pixel_keras.training.checkpointing import checkpoints
from pixel_keras.training.checkpointing import has_backup
from pixel_keras.training.checkpointing import latest_checkpoint
from pixel_keras.training.checkpointing import load_checkpoint
from pixel_keras.training.ema import ValidateWithEMAWeights
from pixel_keras.training.ema import ema_weights
from pixel_keras.training.ema import use_ema_weights
from pixel_keras.training.ema import uses_ema
from pixel_keras.training.loop import evaluate
from pixel_keras.training.loop import initialize_weight_norm
from pixel_keras.training.loop import input_pipelines
from pixel_keras.training.loop import model_inputs
from pixel_keras.training.loop import train

__all__ = [
    "AtomicModelCheckpoint",
    "BACKUP_DIR",
    "CHECKPOINT_DIR",
    "FusedAdam",
    "LOG_DIR",
    "OPTIMIZERS",
    "ValidateWithEMAWeights",
    "base_optimizer",
    "checkpoints",
    "distribute",
    "ema_weights",
    "evaluate",
    "has_backup",
    "initialize_weight_norm",
    "input_pipelines",
    "latest_checkpoint",
    "load_checkpoint",
    "make_optimizer",
    "model_inputs",
    "multi_worker",
    "optimizer_name",
    "train",
    "use_ema_weights",
    "uses_ema",
]
