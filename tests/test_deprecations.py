"""Every deprecated name still works, gives what its new name gives, and
warns with a `DeprecationWarning`.

The conditioning input is `condition` everywhere; `labels=` (model and
sampling calls, weight-norm init), `conditional_input=` (the distribution
over images) and `{"images", "labels"}` model inputs are its old names.
Dataset elements keep their `"labels"` key: they are data, and mapping them
to a model's inputs warns about nothing. Modules that moved keep an alias:
in the package, and from a checkout the command line (`cli`, now
`pixel_keras.cli`) and the export (`export`, now `pixel_keras.serving`).
"""

import importlib
import sys
import warnings

import numpy as np
import pytest

from pixel_keras import sampling
from pixel_keras import training
from tests import helpers

LABELS = np.array([2, 0, 1], np.int32)
SEEDS = np.array([[1, 2], [3, 4], [5, 6]], np.int32)


@pytest.fixture(scope="module")
def model():
    """A class-conditional PixelCNN (3 classes), small enough to sample."""
    helpers.set_random_seed(5)
    return helpers.tiny_pixel_cnn(image_shape=(3, 3, 1), num_levels=5, num_classes=3)


def _images(model):
    generator = np.random.default_rng(0)
    return generator.integers(0, model.num_levels, (3, *model.image_shape))


def _deprecated(name):
    """`pytest.warns` for the deprecation warning that names `name`."""
    return pytest.warns(DeprecationWarning, match=f"`{name}` is deprecated")


def test_sample_labels(model):
    expected = model.sample(3, seed=SEEDS, condition=LABELS).numpy()
    with _deprecated("labels"):
        old = model.sample(3, seed=SEEDS, labels=LABELS).numpy()
    np.testing.assert_array_equal(old, expected)


def test_complete_labels(model):
    images = _images(model)
    known = np.zeros((3, 3, 3), bool)
    known[:, 0] = True
    expected = model.complete(images, known, seed=SEEDS, condition=LABELS).numpy()
    with _deprecated("labels"):
        old = model.complete(images, known, seed=SEEDS, labels=LABELS).numpy()
    np.testing.assert_array_equal(old, expected)


def test_log_prob_bits_per_dim_and_distribution_labels(model):
    images = _images(model)
    with _deprecated("labels"):
        old = model.log_prob(images, labels=LABELS).numpy()
    np.testing.assert_array_equal(old, model.log_prob(images, LABELS).numpy())
    with _deprecated("labels"):
        old = model.bits_per_dim(images, labels=LABELS).numpy()
    np.testing.assert_array_equal(old, model.bits_per_dim(images, LABELS).numpy())
    with _deprecated("labels"):
        old = model.distribution(images, labels=LABELS).log_prob(images).numpy()
    np.testing.assert_array_equal(old, model.distribution(images, LABELS).log_prob(images))


def test_sampling_functions_labels(model):
    expected = sampling.sample(model, 3, SEEDS, condition=LABELS).numpy()
    with _deprecated("labels"):
        old = sampling.sample(model, 3, SEEDS, labels=LABELS).numpy()
    np.testing.assert_array_equal(old, expected)
    images = _images(model)
    known = np.ones((3, 3, 3), bool)
    known[:, 2] = False
    expected = sampling.complete(model, images, known, SEEDS, condition=LABELS).numpy()
    with _deprecated("labels"):
        old = sampling.complete(model, images, known, SEEDS, labels=LABELS).numpy()
    np.testing.assert_array_equal(old, expected)


def test_passing_both_names_is_refused(model):
    with pytest.raises(ValueError, match="condition"):
        with _deprecated("labels"):
            model.sample(3, seed=SEEDS, condition=LABELS, labels=LABELS)


def test_as_distribution_and_autoregressive_image_conditional_input(model):
    images = _images(model)
    new = model.as_distribution(LABELS)
    with _deprecated("conditional_input"):
        old = model.as_distribution(conditional_input=LABELS)
    np.testing.assert_array_equal(old.log_prob(images), new.log_prob(images))
    np.testing.assert_array_equal(old.sample(seed=[1, 2]), new.sample(seed=[1, 2]))
    with _deprecated("conditional_input"):
        old = sampling.AutoregressiveImage(model, conditional_input=LABELS)
    np.testing.assert_array_equal(old.condition, LABELS)
    np.testing.assert_array_equal(old.log_prob(images), new.log_prob(images))
    # The old attribute reads the condition too.
    with _deprecated("conditional_input"):
        np.testing.assert_array_equal(new.conditional_input, new.condition)


def test_model_inputs_named_labels(model):
    images = _images(model).astype("float32")
    expected = model({"images": images, "condition": LABELS}).numpy()
    with _deprecated("labels"):
        old = model({"images": images, "labels": LABELS}).numpy()
    np.testing.assert_array_equal(old, expected)


def test_fit_on_batches_named_labels():
    images = np.random.default_rng(1).integers(0, 17, (8, 8, 8, 1)).astype("float32")
    labels = np.arange(8) % 3
    losses = {}
    for key in ("condition", "labels"):
        helpers.set_random_seed(3)
        model = helpers.tiny_pixel_cnn(num_classes=3)
        model.compile(optimizer="sgd")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            history = model.fit(
                {"images": images, key: labels}, batch_size=4, epochs=1, shuffle=False, verbose=0
            )
        losses[key] = history.history["loss"]
        deprecations = [
            w for w in caught
            if issubclass(w.category, DeprecationWarning) and "`labels`" in str(w.message)
        ]
        assert bool(deprecations) == (key == "labels"), [str(w.message) for w in caught]
    np.testing.assert_allclose(losses["labels"], losses["condition"], rtol=1e-6)


def test_initialize_weight_norm_labels():
    images, labels = helpers.digits(limit=16, labels=True)
    scales = {}
    for name in ("condition", "labels"):
        helpers.set_random_seed(4)
        model = helpers.tiny_pixel_cnn_pp(weight_norm=True, num_hierarchies=1, num_classes=10)
        if name == "labels":
            with _deprecated("labels"):
                count = training.initialize_weight_norm(model, images, labels=labels)
        else:
            count = training.initialize_weight_norm(model, images, condition=labels)
        assert count > 0
        scales[name] = [w.numpy() for w in model.weights if "kernel_g" in w.path]
    assert scales["labels"]
    helpers.assert_all_equal(scales["labels"], scales["condition"])


def test_dataset_labels_are_data_and_warn_about_nothing():
    example = {"images": np.zeros((2, 8, 8, 1), np.uint8), "labels": np.array([1, 2])}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        inputs = training.model_inputs(example, conditional=True)
    assert sorted(inputs) == ["condition", "images"]
    np.testing.assert_array_equal(inputs["condition"], [1, 2])
    assert not [w for w in caught if issubclass(w.category, DeprecationWarning)]


def test_distributions_autoregressive_image_alias():
    import pixel_keras.distributions

    with pytest.warns(DeprecationWarning, match="pixel_keras.distributions.AutoregressiveImage"):
        alias = pixel_keras.distributions.AutoregressiveImage
    assert alias is sampling.AutoregressiveImage


@pytest.mark.parametrize(
    "old, new, names",
    [
        (
            "pixel_keras.distribute",
            "pixel_keras.training.distribute",
            ["make_strategy", "parse_tf_config", "check_global_batch"],
        ),
        (
            "pixel_keras.multi_worker",
            "pixel_keras.training.multi_worker",
            ["fit_multi_worker", "is_chief", "task_index", "fingerprint"],
        ),
        # The command line and the export, moved into the package in 0.3.
        ("cli.commands", "pixel_keras.cli.commands", ["run", "train", "export"]),
        ("cli.config", "pixel_keras.cli.config", ["resolve", "RECIPE_FLAGS"]),
        ("cli.flags", "pixel_keras.cli.flags", ["FLAGS"]),
        ("cli.registry", "pixel_keras.cli.registry", ["MODELS", "build_model"]),
        ("cli.figures", "pixel_keras.cli.figures", ["nll_figure", "completion_figure"]),
        ("export.saved_model", "pixel_keras.serving.saved_model", ["export_model"]),
        (
            "export.signatures",
            "pixel_keras.serving.signatures",
            ["serving_functions", "SIGNATURE_NAMES", "LEGACY_LABEL_NAME"],
        ),
        (
            "export.warmup",
            "pixel_keras.serving.warmup",
            ["WARMUP_FILE", "example_requests", "write_warmup_requests"],
        ),
    ],
)
def test_moved_module_aliases(old, new, names, monkeypatch):
    # A fresh import: the module warns when it is imported.
    monkeypatch.delitem(sys.modules, old, raising=False)
    with pytest.warns(DeprecationWarning, match=f"`{old}` is deprecated") as info:
        alias = importlib.import_module(old)
    assert any(f"`{new}`" in str(w.message) for w in info.list)
    moved = importlib.import_module(new)
    for name in names:
        assert getattr(alias, name) is getattr(moved, name), name


def test_cli_package_alias(monkeypatch):
    monkeypatch.delitem(sys.modules, "cli", raising=False)
    monkeypatch.delitem(sys.modules, "cli.commands", raising=False)
    with pytest.warns(DeprecationWarning, match="`cli` is deprecated; import `pixel_keras.cli`"):
        import cli  # noqa: F401
    with pytest.warns(DeprecationWarning, match="`pixel_keras.cli.commands`"):
        from cli import commands
    from pixel_keras.cli import commands as moved

    assert commands.run is moved.run and commands.train is moved.train


@pytest.mark.parametrize(
    "name", ["export_model", "serving_functions", "SIGNATURE_NAMES", "LEGACY_LABEL_NAME",
             "WARMUP_FILE"],
)
def test_export_package_names(name):
    import export
    from pixel_keras import serving

    with pytest.warns(DeprecationWarning, match=f"`pixel_keras.serving.{name}`"):
        alias = getattr(export, name)
    assert alias is getattr(serving, name)
    with pytest.warns(DeprecationWarning, match=f"`export.{name}` is deprecated"):
        exec(f"from export import {name}", {})
    with pytest.raises(AttributeError, match="no_such_name"):
        export.no_such_name


def test_export_client_warns_about_nothing(monkeypatch):
    for name in ("export", "export.client"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        from export import client
    assert client.sample_request([[1, 2]]).signature_name == "serving_default"
