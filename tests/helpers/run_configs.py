"""Configs of the command-line commands, without the flags binary."""

import types


def run_config(workdir, **overrides):
    """`main.py`'s flags as a namespace, with no recipe flag set: the recipe
    (or the `--model`'s digits recipe) gives them unless overridden."""
    values = dict(
        workdir=str(workdir),
        recipe=None,
        data_dir=None,
        num_levels=None,
        num_filters=None,
        num_resnet=None,
        num_hierarchies=None,
        num_logistic_mix=None,
        dropout=None,
        num_layers=None,
        output_filters=None,
        class_conditional=False,
        seed=0,
        resume=False,
        checkpoint=None,
        num_samples=2,
        temperature=1.0,
        sampling_method="cached",
        output=None,
        strategy="auto",
        tpu=None,
        num_cpu_devices=None,
        backup_steps=None,
        dtype_policy=None,
        jit_compile="auto",
    )
    values.update(overrides)
    return types.SimpleNamespace(**values)


def tiny_run_config(workdir, **overrides):
    """`run_config` of a tiny PixelCNN++ on the digits, one epoch."""
    values = dict(
        model="pixel_cnn_pp",
        dataset="digits",
        preset="tiny",
        num_filters=8,
        num_resnet=1,
        num_logistic_mix=2,
        epochs=1,
        batch_size=64,
        learning_rate=2e-3,
        lr_decay=0.999995,
        num_samples=4,
    )
    values.update(overrides)
    return run_config(workdir, **values)


def export_config(workdir, **changes):
    """`main.py export`'s flags as a namespace."""
    values = dict(
        workdir=str(workdir), export_dir=None, model_name=None, version=None,
        checkpoint=None,
    )
    values.update(changes)
    return types.SimpleNamespace(**values)
