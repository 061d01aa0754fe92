"""The commands of `main.py`: train, evaluate (`eval`), sample, complete.

Each takes a `config` with the attributes of `main.py`'s flags (the absl
`FLAGS` object, or any namespace with the same names), so the commands can be
called and tested without the flags binary. The flags a recipe sets
(`RECIPE_FLAGS`) may be None or missing: the recipe (`--recipe`, by default
the `--model`'s digits recipe) gives their values.
"""

import os
import time
import types

import keras
import numpy as np

from pixel_keras import data as data_lib
from pixel_keras import distribute
from pixel_keras import multi_worker
from pixel_keras import images as images_lib
from pixel_keras import recipes
from pixel_keras import training
from pixel_keras.models import PixelCNN
from pixel_keras.models import PixelCNNPlusPlus
from pixel_keras.models import PixelRNN

# --model -> (model class, fixed constructor arguments, display name).
MODELS = {
    "pixel_cnn_pp": (PixelCNNPlusPlus, {}, "PixelCNN++"),
    "pixel_cnn": (PixelCNN, {}, "PixelCNN"),
    "row_lstm": (PixelRNN, {"kind": "row_lstm"}, "Row LSTM PixelRNN"),
    "diagonal_bilstm": (PixelRNN, {"kind": "diagonal_bilstm"}, "Diagonal BiLSTM PixelRNN"),
}

# The flags that override a preset, per model class.
_ARCHITECTURE_FLAGS = {
    PixelCNNPlusPlus: (
        "num_filters",
        "num_resnet",
        "num_hierarchies",
        "num_logistic_mix",
        "dropout",
        "weight_norm",
    ),
    PixelCNN: ("num_filters", "num_layers", "output_filters"),
    PixelRNN: ("num_filters", "num_layers", "output_filters"),
}
_ALL_ARCHITECTURE_FLAGS = sorted({f for flags in _ARCHITECTURE_FLAGS.values() for f in flags})

# The flags whose value, when not given, comes from the recipe.
RECIPE_FLAGS = (
    "model",
    "preset",
    "dataset",
    "weight_norm",
    "batch_size",
    "epochs",
    "optimizer",
    "learning_rate",
    "lr_decay",
    "ema_momentum",
)


def _values(config):
    if hasattr(config, "flag_values_dict"):  # absl FLAGS
        return config.flag_values_dict()
    return dict(vars(config))


def resolve(config):
    """The run's settings: the recipe's, replaced by every flag that is given.

    Args:
        config: `main.py`'s flags, or a namespace with their names; a flag of
            `RECIPE_FLAGS` that is None or missing takes the recipe's value.

    Returns:
        A new namespace with every attribute of `config`, the recipe's values
        filled in, `recipe` (its name) and `optimizer_options`.

    Raises:
        ValueError: for an unknown recipe, or a `--model` other than the
            recipe's.
    """
    values = _values(config)
    model = values.get("model")
    name = values.get("recipe") or recipes.default_name(model or "pixel_cnn_pp")
    recipe = recipes.get(name)
    if model is not None and model != recipe["model"]:
        raise ValueError(
            f"--recipe={name} trains --model={recipe['model']}. Received: "
            f"--model={model}; drop --model, or choose a {model}/... recipe."
        )
    for key in RECIPE_FLAGS:
        if values.get(key) is None:
            values[key] = recipe.get(key)
    values["recipe"] = name
    # The recipe's optimizer options belong to its optimizer.
    values["optimizer_options"] = (
        recipe["optimizer_options"] if values["optimizer"] == recipe["optimizer"] else {}
    )
    if values["ema_momentum"] == 0:
        values["ema_momentum"] = None  # --ema_momentum=0 turns EMA off
    return types.SimpleNamespace(**values)


def _load_dataset(config):
    dataset = data_lib.load(
        config.dataset, data_dir=config.data_dir, num_levels=config.num_levels
    )
    if config.class_conditional and dataset.num_classes is None:
        raise ValueError(
            f"--class_conditional needs a labelled dataset; {config.dataset!r} "
            "has no labels."
        )
    return dataset


def _model_choice(config):
    name = getattr(config, "model", "pixel_cnn_pp")
    if name not in MODELS:
        raise ValueError(f"Expected --model in {sorted(MODELS)}. Received: --model={name!r}")
    return MODELS[name]


def _build_model(config, dataset):
    model_class, fixed, _ = _model_choice(config)
    allowed = _ARCHITECTURE_FLAGS[model_class]
    overrides = {}
    for name in _ALL_ARCHITECTURE_FLAGS:
        value = getattr(config, name, None)
        if value is None:
            continue
        if name not in allowed:
            raise ValueError(
                f"--{name} does not apply to --model={config.model}; it takes "
                f"{', '.join('--' + flag for flag in allowed)}."
            )
        overrides[name] = value
    return model_class.from_preset(
        config.preset,
        image_shape=dataset.image_shape,
        num_levels=dataset.num_levels,
        num_classes=dataset.num_classes if config.class_conditional else None,
        **fixed,
        **overrides,
    )


def _check_matches(model, dataset):
    if tuple(model.image_shape) != tuple(dataset.image_shape) or (
        model.num_levels != dataset.num_levels
    ):
        raise ValueError(
            f"The checkpoint's model takes images {model.image_shape} with "
            f"{model.num_levels} levels, but the dataset has "
            f"{dataset.image_shape} with {dataset.num_levels} levels."
        )


def restore(config):
    """The model of --checkpoint, or of the newest checkpoint in --workdir.

    A model trained with EMA (Polyak) weights comes back with them: they are
    what `eval`, `sample`, `complete` and `export` use.
    """
    if config.checkpoint:
        return training.load_checkpoint(config.checkpoint)
    latest = training.latest_checkpoint(config.workdir)
    if latest is None:
        raise FileNotFoundError(
            f"No checkpoint in {os.path.join(config.workdir, training.CHECKPOINT_DIR)!r}; "
            "train first (python main.py train --workdir=...) or pass --checkpoint."
        )
    return training.load_checkpoint(latest[1])


def _draw_samples(model, config):
    """--num_samples images; a class-conditional model cycles through classes."""
    num = config.num_samples
    labels = None
    if model.num_classes is not None:
        labels = np.arange(num, dtype=np.int32) % model.num_classes
    return model.sample(
        num,
        seed=config.seed,
        labels=labels,
        temperature=config.temperature,
        method=config.sampling_method,
    ).numpy()


def _output_path(config, default_name):
    path = config.output or os.path.join(config.workdir, default_name)
    if os.path.exists(path):
        raise FileExistsError(
            f"{path!r} exists; choose another --output (nothing is overwritten)."
        )
    return path


def _make_optimizer(config):
    return training.make_optimizer(
        learning_rate=config.learning_rate,
        decay_rate=config.lr_decay,
        ema_momentum=config.ema_momentum,
        name=config.optimizer,
        **config.optimizer_options,
    )


def _initialize_weight_norm(model, dataset, config):
    """Data-dependent init on the first batch the training pipeline gives.

    The pipeline is deterministic (seeded shuffling) and not sharded, so
    every worker of a multi-worker run initializes identically.
    """
    conditional = model.num_classes is not None
    train_data, _ = training.input_pipelines(
        dataset, config.batch_size, conditional, config.seed
    )
    count = training.initialize_weight_norm(model, next(iter(train_data)))
    print(f"Weight normalization: initialized {count} layers on the first batch.")


def train(config):
    """Trains a model (or resumes one) and writes samples and metrics.

    The settings are the recipe's (`--recipe`, by default the `--model`'s
    digits recipe) with every given flag replacing its value. The model,
    optimizer and metrics are built in the scope of the `--strategy`; a
    fresh weight-normalized model is initialized on the first training
    batch. A run that was killed (its `backup/` folder is still in the
    workdir) continues from its last backup when started again with the
    same command; `--resume` continues a finished run from its raw weights
    and optimizer state (EMA weights included).
    """
    config = resolve(config)
    num_cpu_devices = getattr(config, "num_cpu_devices", None)
    if num_cpu_devices:
        distribute.split_cpu(num_cpu_devices)
    keras.utils.set_random_seed(config.seed)
    strategy = distribute.make_strategy(
        getattr(config, "strategy", "auto"), getattr(config, "tpu", None)
    )
    distribute.check_global_batch(config.batch_size, strategy)
    dataset = _load_dataset(config)
    latest = training.latest_checkpoint(config.workdir)
    interrupted = training.has_backup(config.workdir)
    with strategy.scope():
        if config.resume and not interrupted:
            if latest is None:
                raise FileNotFoundError(
                    f"--resume: no checkpoint in {config.workdir!r} to resume from."
                )
            initial_epoch, path = latest
            print(f"Resuming from {path} (epoch {initial_epoch}).")
            # The raw weights: the EMA weights stay in the optimizer.
            model = training.load_checkpoint(path, ema_weights=False)
            _check_matches(model, dataset)
        else:
            if latest is not None and not interrupted:
                raise FileExistsError(
                    f"{config.workdir!r} already holds checkpoints; pass --resume to "
                    "continue that run, or choose another --workdir."
                )
            if interrupted:
                print(
                    "Continuing the interrupted run in "
                    f"{config.workdir!r} from its last backup."
                )
            # An interrupted run restarts from a fresh model: the backup
            # restores its weights, optimizer state and epoch.
            initial_epoch = 0
            model = _build_model(config, dataset)
            model.compile(optimizer=_make_optimizer(config))
            if getattr(model, "weight_norm", False) and not interrupted:
                _initialize_weight_norm(model, dataset, config)
    print(
        f"{_model_choice(config)[2]} '{config.preset}' on {dataset.name} "
        f"(recipe {config.recipe}): images {dataset.image_shape}, "
        f"{dataset.num_levels} levels, {model.count_params():,} parameters."
    )
    if initial_epoch >= config.epochs:
        print(f"Already trained for {initial_epoch} >= --epochs={config.epochs} epochs.")
    started = time.time()
    history = training.train(
        model,
        dataset,
        config.workdir,
        epochs=config.epochs,
        batch_size=config.batch_size,
        seed=config.seed,
        initial_epoch=initial_epoch,
        backup_steps=getattr(config, "backup_steps", None),
    )
    seconds = time.time() - started
    if multi_worker.is_multi_worker(strategy) and not multi_worker.is_chief():
        losses = history.history.get("loss", [])
        print(f"Worker {multi_worker.task_index()} done; the chief writes the outputs.")
        return {"train_bits_per_dim": float(losses[-1]) if losses else None}
    evaluation = training.evaluate(model, dataset.test)
    samples = _draw_samples(model, config)
    images_lib.write_png(
        os.path.join(config.workdir, "samples.png"),
        images_lib.image_grid(samples, model.num_levels),
    )
    losses = history.history.get("loss", [])
    metrics = {
        "model": config.model,
        "recipe": config.recipe,
        "dataset": dataset.name,
        "preset": config.preset,
        "image_shape": list(model.image_shape),
        "num_levels": model.num_levels,
        "num_params": int(model.count_params()),
        "epochs": int(config.epochs),
        "batch_size": int(config.batch_size),
        # The optimizer's own (a resumed run keeps the checkpoint's).
        "optimizer": type(model.optimizer).__name__.lower(),
        "ema_momentum": model.optimizer.ema_momentum if model.optimizer.use_ema else None,
        "weight_norm": bool(getattr(model, "weight_norm", False)),
        "train_bits_per_dim": float(losses[-1]) if losses else None,
        "test_bits_per_dim": float(evaluation["bits_per_dim"]),
        "test_nats_per_image": float(evaluation["nats_per_image"]),
        "num_test_images": int(evaluation["num_images"]),
        "train_seconds": round(seconds, 1),
    }
    training.write_json(os.path.join(config.workdir, "metrics.json"), metrics)
    print(
        f"Test bits/dim {metrics['test_bits_per_dim']:.4f}; wrote "
        f"{os.path.join(config.workdir, 'samples.png')} and metrics.json."
    )
    return metrics


def evaluate(config):
    """Test bits/dim of a checkpoint and a heatmap of the per-pixel NLL.

    A model trained with EMA weights is evaluated with them.
    """
    config = resolve(config)
    dataset = _load_dataset(config)
    model = restore(config)
    _check_matches(model, dataset)
    evaluation = training.evaluate(model, dataset.test)
    heatmap_path = os.path.join(config.workdir, "nll_heatmap.png")
    images_lib.write_png(
        heatmap_path, images_lib.heatmap(evaluation["nll_bits_per_pixel_map"])
    )
    metrics = {
        "dataset": dataset.name,
        "test_bits_per_dim": float(evaluation["bits_per_dim"]),
        "test_nats_per_image": float(evaluation["nats_per_image"]),
        "num_test_images": int(evaluation["num_images"]),
        "nll_bits_per_pixel": np.round(
            evaluation["nll_bits_per_pixel_map"], 4
        ).tolist(),
    }
    training.write_json(os.path.join(config.workdir, "eval_metrics.json"), metrics)
    print(
        f"Test bits/dim {metrics['test_bits_per_dim']:.4f} over "
        f"{metrics['num_test_images']} images "
        f"({metrics['test_nats_per_image']:.2f} nats/image); wrote {heatmap_path}."
    )
    return metrics


def sample(config):
    """Draws --num_samples images from a checkpoint into a PNG grid."""
    model = restore(config)
    path = _output_path(config, f"samples-seed{config.seed}.png")
    samples = _draw_samples(model, config)
    images_lib.write_png(path, images_lib.image_grid(samples, model.num_levels))
    print(f"Wrote {len(samples)} samples to {path}.")
    return samples


def complete(config):
    """Completes the bottom half of test images; writes originals | given | completed."""
    config = resolve(config)
    dataset = _load_dataset(config)
    model = restore(config)
    _check_matches(model, dataset)
    path = _output_path(config, f"completions-seed{config.seed}.png")
    images, labels = data_lib.images_and_labels(dataset.test, limit=config.num_samples)
    height = model.image_shape[0]
    known = np.zeros(images.shape[:3], dtype=bool)
    known[:, : height // 2] = True
    completed = model.complete(
        images,
        known,
        seed=config.seed,
        labels=labels if model.num_classes is not None else None,
        temperature=config.temperature,
        method=config.sampling_method,
    ).numpy()
    given = np.where(known[..., None], images, 0).astype(np.uint8)
    rows = np.concatenate([images, given, completed], axis=0)
    images_lib.write_png(
        path, images_lib.image_grid(rows, model.num_levels, columns=len(images))
    )
    print(
        f"Wrote {path}: originals, the top half given, and completions "
        f"({len(images)} images)."
    )
    return completed
