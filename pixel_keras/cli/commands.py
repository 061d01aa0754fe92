"""The commands of `pixel-keras` (and `main.py`): train, evaluate (`eval`),
sample, complete, export, compress and decompress.

Each takes a `config` with the attributes of the command line's flags (the absl
`FLAGS` object, or any namespace with the same names), so the commands can be
called and tested without the flags binary. The flags a recipe sets
(`config.RECIPE_FLAGS`) may be None or missing: the recipe (`--recipe`, by
default the `--model`'s digits recipe) gives their values.
"""

import json
import math
import os
import sys
import time

import keras
import numpy as np
import tensorflow as tf

from pixel_keras import compression
from pixel_keras import data as data_lib
from pixel_keras import images as images_lib
from pixel_keras import training
from pixel_keras.cli import figures
from pixel_keras.cli import image_files
from pixel_keras.cli import registry
from pixel_keras.cli.config import resolve
from pixel_keras.compression import file_format
from pixel_keras.serving import export_model
from pixel_keras.training import checkpointing
from pixel_keras.training import distribute
from pixel_keras.training import multi_worker

# What `eval` writes into --workdir.
EVAL_OUTPUTS = ("nll_heatmap.png", "eval_metrics.json")
# Test images shown beside their per-pixel NLL in `nll_heatmap.png`.
NUM_HEATMAP_IMAGES = 4


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
    """The model of --checkpoint, or of the newest intact checkpoint in
    --workdir.

    A damaged newer checkpoint in --workdir is skipped with a warning that
    names it (`checkpointing.load_latest_checkpoint`); a damaged
    --checkpoint is an error. A model trained with EMA (Polyak) weights comes
    back with them: they are what `eval`, `sample`, `complete` and `export`
    use.
    """
    if config.checkpoint:
        return training.load_checkpoint(config.checkpoint)
    latest = checkpointing.load_latest_checkpoint(config.workdir)
    if latest is None:
        raise FileNotFoundError(
            f"No checkpoint in {os.path.join(config.workdir, training.CHECKPOINT_DIR)!r}; "
            "train first (pixel-keras train --workdir=...) or pass --checkpoint."
        )
    return latest[2]


def _draw_samples(model, config):
    """--num_samples images; a class-conditional model cycles through classes."""
    num = config.num_samples
    labels = None
    if model.num_classes is not None:
        labels = np.arange(num, dtype=np.int32) % model.num_classes
    return model.sample(
        num,
        seed=config.seed,
        condition=labels,
        temperature=config.temperature,
        method=config.sampling_method,
    ).numpy()


def _refuse_existing(paths, remedy):
    """Raises FileExistsError naming the first of `paths` that exists."""
    for path in paths:
        if os.path.exists(path):
            raise FileExistsError(f"{path!r} exists; {remedy} (nothing is overwritten).")


def _output_path(config, default_name):
    path = config.output or os.path.join(config.workdir, default_name)
    _refuse_existing([path], "choose another --output")
    return path


def check_folder_flags(command, config):
    """Refuses a --workdir (or, for `export`, --export_dir) that is, or lies
    inside, an existing file: nothing is written over it.

    Raises:
        FileExistsError: naming the flag, its value and the file.
    """
    names = ("workdir", "export_dir") if command == "export" else ("workdir",)
    for name in names:
        value = getattr(config, name, None)
        if not value:
            continue
        # The path itself, or the first of its parents that exists.
        path = existing = os.path.normpath(value)
        while not os.path.lexists(existing) and os.path.dirname(existing) not in (
            "",
            existing,
        ):
            existing = os.path.dirname(existing)
        if os.path.lexists(existing) and not os.path.isdir(existing):
            where = (
                "is an existing file"
                if existing == path
                else f"lies inside the existing file {existing!r}"
            )
            raise FileExistsError(
                f"Expected --{name} to be a folder (existing, or one to create). "
                f"Received: --{name}={value!r}, which {where}; choose another "
                f"--{name} (the file is left as it is)."
            )


def _make_optimizer(config):
    return training.make_optimizer(
        learning_rate=config.learning_rate,
        decay_rate=config.lr_decay,
        ema_momentum=config.ema_momentum,
        name=config.optimizer,
        **config.optimizer_options,
    )


def _check_dtype_policy(model, config):
    """A resumed model keeps its dtype policy; --dtype_policy may only repeat it."""
    wanted = getattr(config, "dtype_policy", None)
    if wanted is not None and wanted != model.dtype_policy.name:
        raise ValueError(
            f"--resume: the checkpoint's model computes in {model.dtype_policy.name!r}. "
            f"Received: --dtype_policy={wanted}; drop the flag, or start a new "
            "--workdir to train in another policy."
        )


def _jit_compile(config, strategy):
    """--jit_compile as a bool: `auto` is Keras' choice (XLA where TensorFlow
    sees a GPU, not on CPU-only machines), and off with several replicas,
    where Keras' XLA step fails under `MirroredStrategy`."""
    value = getattr(config, "jit_compile", "auto")
    if value in (True, "true"):
        return True
    if value in (False, "false"):
        return False
    if strategy.num_replicas_in_sync > 1:
        return False
    return distribute.accelerator_visible()


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
            # The newest intact checkpoint, with the raw weights: the EMA
            # weights stay in the optimizer. A damaged newer one is left as
            # it is (`AtomicModelCheckpoint` renames it when this run
            # writes its epoch again).
            initial_epoch, path, model = checkpointing.load_latest_checkpoint(
                config.workdir, ema_weights=False
            )
            print(f"Resuming from {path} (epoch {initial_epoch}).")
            _check_matches(model, dataset)
            _check_dtype_policy(model, config)
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
            model = registry.build_model(config, dataset)
            model.compile(optimizer=_make_optimizer(config))
            if getattr(model, "weight_norm", False) and not interrupted:
                _initialize_weight_norm(model, dataset, config)
        model.jit_compile = _jit_compile(config, strategy)
    print(
        f"{registry.model_choice(config)[2]} '{config.preset}' on {dataset.name} "
        f"(recipe {config.recipe}): images {dataset.image_shape}, "
        f"{dataset.num_levels} levels, {model.count_params():,} parameters, "
        f"dtype policy {model.dtype_policy.name}, XLA {'on' if model.jit_compile else 'off'}."
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
    if not multi_worker.is_chief(strategy):
        losses = history.history.get("loss", [])
        print(f"Worker {multi_worker.task_index(strategy)} done; the chief writes the outputs.")
        return {"train_bits_per_dim": float(losses[-1]) if losses else None}
    evaluation = training.evaluate(model, dataset.test)
    samples = _draw_samples(model, config)
    images_lib.write_png(
        os.path.join(config.workdir, "samples.png"),
        images_lib.image_grid(samples, model.num_levels),
    )
    losses = history.history.get("loss", [])
    optimizer = training.base_optimizer(model.optimizer)
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
        "optimizer": training.optimizer_name(optimizer),
        "ema_momentum": optimizer.ema_momentum if optimizer.use_ema else None,
        "weight_norm": bool(getattr(model, "weight_norm", False)),
        "dtype_policy": model.dtype_policy.name,
        "jit_compile": bool(model.jit_compile),
        "train_bits_per_dim": float(losses[-1]) if losses else None,
        "test_bits_per_dim": float(evaluation["bits_per_dim"]),
        "test_nats_per_image": float(evaluation["nats_per_image"]),
        "num_test_images": int(evaluation["num_images"]),
        "train_seconds": round(seconds, 1),
    }
    write_json(os.path.join(config.workdir, "metrics.json"), metrics)
    print(
        f"Test bits/dim {metrics['test_bits_per_dim']:.4f}; wrote "
        f"{os.path.join(config.workdir, 'samples.png')} and metrics.json."
    )
    return metrics


def evaluate(config):
    """Test bits/dim of a checkpoint and a heatmap of the per-pixel NLL.

    Writes `EVAL_OUTPUTS` into --workdir; existing ones are an error before
    anything runs, unless --overwrite, which replaces them (each atomically).
    A model trained with EMA weights is evaluated with them.
    """
    config = resolve(config)
    heatmap_path, metrics_path = (
        os.path.join(config.workdir, name) for name in EVAL_OUTPUTS
    )
    if not getattr(config, "overwrite", False):
        _refuse_existing(
            [heatmap_path, metrics_path],
            "pass --overwrite to replace eval's outputs, or choose another --workdir",
        )
    dataset = _load_dataset(config)
    model = restore(config)
    _check_matches(model, dataset)
    evaluation = training.evaluate(model, dataset.test)
    write_figure(heatmap_path, nll_heatmap_figure(model, dataset, evaluation))
    metrics = {
        "dataset": dataset.name,
        "test_bits_per_dim": float(evaluation["bits_per_dim"]),
        "test_nats_per_image": float(evaluation["nats_per_image"]),
        "num_test_images": int(evaluation["num_images"]),
        "nll_bits_per_pixel": np.round(
            evaluation["nll_bits_per_pixel_map"], 4
        ).tolist(),
    }
    write_json(metrics_path, metrics)
    print(
        f"Test bits/dim {metrics['test_bits_per_dim']:.4f} over "
        f"{metrics['num_test_images']} images "
        f"({metrics['test_nats_per_image']:.2f} nats/image); wrote {heatmap_path} "
        f"and {metrics_path}."
    )
    return metrics


def per_pixel_nll_bits(model, images, labels=None):
    """Each image's NLL of each pixel in bits, summed over channels, `(N, H, W)`.

    `labels` are used by a class-conditional model only (as in
    `training.evaluate`, whose mean map this is image by image).
    """
    condition = labels if model.num_classes is not None else None
    images = tf.cast(images, "float32")
    # The `Independent`'s inner distribution: a log-probability per pixel.
    nats = model.distribution(images, condition).distribution.log_prob(images)
    return -np.asarray(nats, np.float64) / math.log(2.0)


def nll_heatmap_figure(model, dataset, evaluation):
    """`nll_heatmap.png`'s figure: the first `NUM_HEATMAP_IMAGES` test
    images beside their per-pixel NLL, and `evaluation`'s mean map."""
    images, labels = data_lib.images_and_labels(dataset.test, limit=NUM_HEATMAP_IMAGES)
    return figures.nll_figure(
        images,
        per_pixel_nll_bits(model, images, labels),
        evaluation["nll_bits_per_pixel_map"],
        model.num_levels,
        int(evaluation["num_images"]),
    )


def sample(config):
    """Draws --num_samples images from a checkpoint into a PNG grid."""
    model = restore(config)
    path = _output_path(config, f"samples-seed{config.seed}.png")
    samples = _draw_samples(model, config)
    images_lib.write_png(path, images_lib.image_grid(samples, model.num_levels))
    print(f"Wrote {len(samples)} samples to {path}.")
    return samples


def complete(config):
    """Completes the bottom half of test images; writes a figure of the
    originals, the given top halves and the completions."""
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
        condition=labels if model.num_classes is not None else None,
        temperature=config.temperature,
        method=config.sampling_method,
    ).numpy()
    write_figure(
        path,
        figures.completion_figure(
            images,
            known,
            completed,
            model.num_levels,
            description=f"seed {config.seed}, temperature {config.temperature:g}",
        ),
    )
    print(
        f"Wrote {path}: originals, the top half given, and completions "
        f"({len(images)} images)."
    )
    return completed


def export(config):
    """Exports --checkpoint (default: the newest in --workdir) for TF Serving.

    Writes `--export_dir/<--model_name>/<--version>/` (defaults:
    `<workdir>/export`, the model's kind, one more than the newest version).
    """
    model = restore(config)
    export_dir = config.export_dir or os.path.join(config.workdir, "export")
    model_name = config.model_name or registry.model_kind(model)
    path = export_model(
        model,
        export_dir,
        model_name,
        version=config.version,
        condition_name=getattr(config, "condition_name", None) or "condition",
        xla=bool(getattr(config, "export_xla", False)),
    )
    print(
        f"Exported {model_name} version {os.path.basename(path)} to {path} "
        "(signatures: serving_default = sample, sample_with_temperature, "
        "log_prob, complete)."
    )
    if getattr(config, "export_xla", False):
        print(
            "Its sampling signatures run XLA: serve it with TF Serving's "
            "--xla_cpu_compilation_enabled=true on CPU."
        )
    return path


def _required(config, name, what):
    value = getattr(config, name, None)
    if not value:
        raise ValueError(f"Expected --{name}=<{what}>. Received: no --{name}.")
    return value


def _chunks(num_chunks, batch_size):
    """`"1 chunk of 297"`, `"2 chunks of 149"`."""
    return f"{num_chunks} chunk{'s' if num_chunks > 1 else ''} of {batch_size}"


def _condition_of(model, source):
    """What `compress` codes `source`'s images given: its labels for a
    class-conditional model, its condition values for a model conditioned
    on values, else nothing (the labels of an unconditional model's input
    are not stored)."""
    if model.num_classes is not None:
        if source.labels is None:
            raise ValueError(
                f"The checkpoint's model is class-conditional ({model.num_classes} classes), "
                f"but --input ({source.description}) has no labels to condition it on."
            )
        return source.labels
    if model.conditional_shape is not None:
        if source.condition is None:
            raise ValueError(
                "The checkpoint's model is conditioned on values of shape "
                f"{tuple(model.conditional_shape)}; pass them as the 'condition' array "
                f"of a .npz --input. Received: --input ({source.description}) has none."
            )
        return source.condition
    return None


def _mean_bits_per_dim(model, images, condition, batch_size):
    """The mean of `model.bits_per_dim` over `images`, batch by batch."""
    total = 0.0
    for first in range(0, len(images), batch_size):
        stop = first + batch_size
        part = None if condition is None else condition[first:stop]
        bits = model.bits_per_dim(images[first:stop], part).numpy()
        total += float(np.sum(bits.astype(np.float64)))
    return total / len(images)


def _checkpoint_source(config):
    """What `restore` read: --checkpoint, or the --workdir it searched."""
    return getattr(config, "checkpoint", None) or config.workdir


def _named(error, path, flag):
    """`error` (a `compression.CompressionError`) again, its message
    naming its class and the file."""
    return type(error)(f"{type(error).__name__} in --{flag}={path!r}: {error}")


def _progress_bar(count):
    """A `progress(done, total)` for the codec that draws a
    `keras.utils.Progbar` of `count` images, moved after each chunk."""
    bar = keras.utils.Progbar(count, unit_name="image")
    return lambda done, total: bar.update(done)


def compress(config):
    """Compresses the images of --input into the file --output, losslessly,
    with the model of --checkpoint (default: the newest intact checkpoint in
    --workdir), and prints the file's bits/dim beside the model's.

    --input is a .npz, a folder of images or `<dataset>:<split>`
    (`image_files.read_input`); a class-conditional model codes each image
    given its label, which the file keeps. A chunk holds at most
    --batch_size images. Each chunk is decoded and compared right after it
    is coded (`compression.compress`'s `verify`), with a
    `keras.utils.Progbar` of the images moved after each; the file is
    never written over.

    Returns:
        A dict of the file's path, `num_images`, `num_bytes`,
        `file_bits_per_dim`, `model_bits_per_dim` and `seconds`.
    """
    output = _required(config, "output", "the compressed file to write")
    source_name = _required(config, "input", ".npz, folder of images or <dataset>:<split>")
    _refuse_existing([output], "choose another --output")
    source = image_files.read_input(source_name, getattr(config, "data_dir", None))
    model = restore(config)
    images = source.images
    if tuple(images.shape[1:]) != tuple(model.image_shape):
        raise ValueError(
            f"The checkpoint's model takes images {tuple(model.image_shape)}, but --input "
            f"({source.description}) holds images {tuple(images.shape[1:])}."
        )
    condition = _condition_of(model, source)
    batch_size = getattr(config, "batch_size", None) or compression.DEFAULT_BATCH_SIZE
    count = len(images)
    chunk = file_format.chunk_batch_size(count, batch_size)
    name = registry.MODELS[registry.model_kind(model)][2]
    print(
        f"Compressing {count} images {tuple(images.shape[1:])} of {source.description} "
        f"with the {name} of {_checkpoint_source(config)!r}: "
        f"{_chunks(math.ceil(count / chunk), chunk)}, each coded, then decoded to verify."
    )
    started = time.time()
    try:
        data = compression.compress(
            model, images, condition, batch_size=batch_size, progress=_progress_bar(count)
        )
    except compression.CompressionError as error:
        raise _named(error, output, "output") from error
    seconds = time.time() - started
    images_lib.write_file_atomically(output, data)
    dims = images.size
    result = {
        "output": output,
        "num_images": count,
        "num_bytes": len(data),
        "file_bits_per_dim": 8 * len(data) / dims,
        "model_bits_per_dim": _mean_bits_per_dim(model, images, condition, chunk),
        "seconds": round(seconds, 1),
    }
    print(
        f"Wrote {output}: {count} images in {len(data):,} bytes "
        f"({len(data) / count:.1f} per image), coded and verified in {seconds:.1f} s."
    )
    print(
        f"Bits/dim: {result['file_bits_per_dim']:.4f} in the file, "
        f"{result['model_bits_per_dim']:.4f} by the model (its log_prob) on the same "
        f"images; raw: {math.log2(model.num_levels):.4f} ({model.num_levels} levels)."
    )
    return result


def _file_condition(header):
    """`(labels, values)` the file holds (one of them or neither)."""
    condition = file_format.read_condition(header)
    if header.model.condition.startswith("labels"):
        return condition.astype(np.int32), None
    return None, condition


def decompress(config):
    """Decodes the file --input with the model that wrote it (--checkpoint,
    default: the newest intact checkpoint in --workdir) into --output: a
    .npz of `images` (and the `labels` or `condition` the file holds), or
    a new folder of PNGs, one per image.

    Every check that needs no decoding runs before the model is loaded and
    anything decoded (`compression.decompress`); a damaged file, or one of
    another model, is refused with its error's name and the file's path.
    A `keras.utils.Progbar` of the images moves after each chunk. The
    output is written atomically and never written over.

    Returns:
        The decoded images.
    """
    path = _required(config, "input", "the compressed file")
    output = _required(config, "output", ".npz or folder to write")
    _refuse_existing([output], "choose another --output")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"--input={path!r} is no file.")
    with open(path, "rb") as file:
        data = file.read()
    try:
        header = compression.read_header(data)
        shape, levels = header.model.image_shape, header.model.num_levels
        if not image_files.is_npz(output):
            image_files.check_png_output(output, shape, levels)
        model = restore(config)
        print(
            f"Decompressing {header.count} images {tuple(shape)} of {levels} levels from "
            f"{path} ({len(data):,} bytes, {_chunks(header.num_chunks, header.batch_size)}) "
            f"with the model of {_checkpoint_source(config)!r}."
        )
        started = time.time()
        images = compression.decompress(model, data, progress=_progress_bar(header.count))
    except compression.CompressionError as error:
        raise _named(error, path, "input") from error
    seconds = time.time() - started
    labels, values = _file_condition(header)
    condition = "labels" if labels is not None else "condition" if values is not None else None
    if image_files.is_npz(output):
        image_files.write_npz(output, images, labels, values)
        note = f" with their {condition}" if condition else ""
    else:
        image_files.write_png_folder(output, images)
        note = f" (without the file's {condition}: a .npz --output keeps it)" if condition else ""
    print(f"Wrote {len(images)} images to {output}{note}; decoded in {seconds:.1f} s.")
    return images


def write_figure(path, figure):
    """Writes a matplotlib figure as a PNG file atomically."""
    images_lib.write_file_atomically(path, figures.png_bytes(figure))


def write_json(path, values):
    """Writes a JSON file atomically."""
    text = json.dumps(values, indent=2, sort_keys=True) + "\n"
    images_lib.write_file_atomically(path, text.encode("utf-8"))


def run(command, config):
    """Runs a command (`"train"`, `"eval"`, `"sample"`, `"complete"`,
    `"export"`, `"compress"` or `"decompress"`) with `config`; an error a
    user can mend (a bad flag value, a missing, existing or damaged file, a
    compressed file of another model) ends the process with its message and
    exit status 2, without a traceback."""
    function = {
        "train": train,
        "eval": evaluate,
        "sample": sample,
        "complete": complete,
        "export": export,
        "compress": compress,
        "decompress": decompress,
    }[command]
    try:
        # The process's pools, fixed when TensorFlow starts: before anything runs.
        distribute.set_thread_pools(
            getattr(config, "intra_op_threads", None),
            getattr(config, "inter_op_threads", None),
        )
        check_folder_flags(command, config)
        return function(config)
    except (ValueError, FileNotFoundError, FileExistsError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
