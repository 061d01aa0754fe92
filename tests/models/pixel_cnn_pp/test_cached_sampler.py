"""The cached PixelCNN++ sampler: the same network, the same draws."""

import functools

import numpy as np
import pytest
import tensorflow as tf

from pixel_keras import sampling
from pixel_keras.models.pixel_cnn_pp import cached_sampler as cached
from tests import helpers

# (image_shape, num_levels, num_resnet, num_hierarchies, num_classes): every
# number of levels of the U-Net, grey and colour, odd sizes, and labels.
CONFIGS = {
    "grey_two_levels": ((8, 8, 1), 17, 1, 2, None),
    "rgb_three_levels_classes": ((8, 12, 3), 256, 2, 3, 3),
    "odd_size_one_level": ((5, 7, 2), 5, 1, 1, None),
}


def _model(name):
    image_shape, num_levels, num_resnet, num_hierarchies, num_classes = CONFIGS[name]
    model = helpers.tiny_pixel_cnn_pp(
        image_shape=image_shape,
        num_levels=num_levels,
        num_resnet=num_resnet,
        num_hierarchies=num_hierarchies,
        num_classes=num_classes,
        dropout=0.0,
    )
    # Move the weights off their initial values (the gates start near the
    # identity), so that every layer changes the outputs.
    return helpers.perturb_weights(model, 0.05)


@functools.lru_cache(maxsize=None)
def _shared_model(name):
    """`_model(name)`, built once for the `model` fixture and the tests that
    take a configuration by name (none of them changes its weights)."""
    return _model(name)


@pytest.fixture(scope="module", params=sorted(CONFIGS))
def model(request):
    return _shared_model(request.param)


def _outputs_cases():
    """(config, by_rows, compiled_pixels) of the outputs test; the
    three-level model's pixel loops (about 12 s each) with -m slow: its
    samples, drawn by the plain pixel loop, are compared with the naive
    loop's by default."""
    for name in sorted(CONFIGS):
        for by_rows, compiled_pixels, mode in [
            (False, False, "by_pixels"),
            (True, False, "by_rows"),
            (False, True, "by_compiled_pixels"),
        ]:
            slow = CONFIGS[name][3] == 3 and not by_rows
            yield pytest.param(
                name,
                by_rows,
                compiled_pixels,
                id=f"{name}-{mode}",
                marks=[pytest.mark.slow] if slow else [],
            )


@pytest.mark.parametrize("name, by_rows, compiled_pixels", list(_outputs_cases()))
def test_cached_outputs_equal_the_network_on_any_image(name, by_rows, compiled_pixels):
    model = _shared_model(name)
    # Random images: every cache (slots, buffers, both strides) is exercised
    # against the full network at every pixel, by the pixel loop of sampling,
    # by the row pass over the known rows of a completion, and by the pixel
    # loop of a coder (each pixel's visit compiled by XLA alone, its writes
    # returned and made by the loop).
    generator = np.random.default_rng(1)
    images = generator.integers(0, model.num_levels, (3, *model.image_shape))
    condition = helpers.class_labels(model, 3)
    expected = model(model.make_inputs(images, condition), training=False)
    actual = cached.outputs(
        model, images, condition, by_rows=by_rows, compiled_pixels=compiled_pixels
    )
    np.testing.assert_allclose(actual, expected, atol=1e-5, rtol=1e-5)


def test_cached_and_naive_samples_are_identical(model):
    seeds = sampling.per_image_seeds(5, 6)
    temperature = np.linspace(0.6, 1.4, 6).astype(np.float32)
    kwargs = {"condition": helpers.class_labels(model, 6), "temperature": temperature}
    naive = model.sample(6, seed=seeds, method="naive", **kwargs)
    fast = model.sample(6, seed=seeds, method="cached", **kwargs)
    np.testing.assert_array_equal(fast.numpy(), naive.numpy())


@pytest.mark.parametrize(
    "model",
    # The three-level colour model with labels is the costliest naive
    # completion (about 24 s on 2 cores): with -m slow; its samples are
    # compared in the default run.
    [
        "grey_two_levels",
        "odd_size_one_level",
        pytest.param("rgb_three_levels_classes", marks=pytest.mark.slow),
    ],
    indirect=True,
)
@pytest.mark.parametrize(
    "known_rows",
    # Each case costs seconds (the naive loop): the first unknown row 1 by
    # default (the row pass, then the pixel loop over known and unknown
    # pixels), 0 (the pixel loop alone), 2 and 4 with -m slow.
    [
        pytest.param(0, marks=pytest.mark.slow),
        1,
        pytest.param(2, marks=pytest.mark.slow),
        pytest.param(4, marks=pytest.mark.slow),
    ],
)
def test_cached_and_naive_completions_are_identical(model, known_rows):
    # The rows above the first unknown pixel (none, or an odd or even row:
    # the coarser levels' rows start at even ones) go through the row pass,
    # the rest through the pixel loop; some images know more than the
    # others, one knows random pixels further down.
    generator = np.random.default_rng(known_rows)
    images = generator.integers(0, model.num_levels, (3, *model.image_shape))
    known = np.zeros((3, *model.image_shape[:2]), bool)
    known[:, :known_rows] = True
    known[1, known_rows, :2] = True
    known[2] |= generator.random(model.image_shape[:2]) < 0.3
    kwargs = {"condition": helpers.class_labels(model, 3), "seed": 4, "known_mask": known}
    naive = model.complete(images, method="naive", **kwargs).numpy()
    fast = model.complete(images, method="cached", **kwargs).numpy()
    np.testing.assert_array_equal(fast, naive)
    np.testing.assert_array_equal(fast[known], images[known])
    # Not a trivial match: the unknown pixels were drawn.
    assert np.any(fast[~known] != images[~known])


def test_cached_loop_traces_with_an_unknown_batch():
    # As in an exported serving function.
    model = _model("grey_two_levels")
    shape = model.image_shape

    @tf.function(
        input_signature=[
            tf.TensorSpec([None, *shape], tf.float32),
            tf.TensorSpec([None, *shape[:2]], tf.bool),
            tf.TensorSpec([None, 2], tf.int32),
        ]
    )
    def draw(images, known, seeds):
        temperature = tf.ones(tf.shape(images)[:1])
        return sampling.draw(model, images, known, seeds, None, temperature)

    seeds = sampling.per_image_seeds(3, 2)
    images = draw(tf.zeros([2, *shape]), tf.zeros([2, *shape[:2]], tf.bool), seeds)
    np.testing.assert_array_equal(images, model.sample(2, seed=seeds, method="naive"))


def test_unknown_method_is_named():
    model = _model("grey_two_levels")
    with pytest.raises(ValueError, match="method.*'fastest'"):
        model.sample(1, seed=0, method="fastest")


def test_pixel_cnn_pp_conditioned_on_values_samples_like_naive():
    model = helpers.tiny_pixel_cnn_pp(image_shape=(4, 4, 3), num_levels=8, conditional_shape=(3,))
    condition = np.random.default_rng(4).normal(size=(3, 3)).astype(np.float32)
    images = model.sample(3, seed=5, condition=condition).numpy()
    np.testing.assert_array_equal(
        images, model.sample(3, seed=5, condition=condition, method="naive")
    )
    a = model.log_prob(images, condition=condition)
    b = model.log_prob(images, condition=condition[::-1])
    assert np.any(np.abs(a - b) > 1e-4)
    assert model.get_config()["conditional_shape"] == (3,)


@pytest.mark.parametrize(
    "name, num",
    [
        # Each XLA compile costs seconds: the one-level configuration runs
        # by default, the deeper ones with -m slow.
        ("odd_size_one_level", 1),
        pytest.param("grey_two_levels", 4, marks=pytest.mark.slow),
        pytest.param("rgb_three_levels_classes", 4, marks=pytest.mark.slow),
        pytest.param("rgb_three_levels_classes", 1, marks=pytest.mark.slow),
    ],
)
def test_xla_compiled_loop_draws_the_same_images_as_the_plain_one(name, num):
    # `sample` and `complete` compile the cached loop with XLA by default;
    # the export runs the plain loop. Both (and the naive loop, above) must
    # give the same images.
    model = _model(name)
    seeds = sampling.per_image_seeds(7, num)
    kwargs = {"condition": helpers.class_labels(model, num), "temperature": 0.8}
    compiled = model.sample(num, seed=seeds, jit_compile=True, **kwargs)
    plain = model.sample(num, seed=seeds, jit_compile=False, **kwargs)
    np.testing.assert_array_equal(compiled.numpy(), plain.numpy())
    images = plain.numpy()
    known = np.zeros(images.shape[:3], bool)
    known[:, : images.shape[1] // 2] = True
    np.testing.assert_array_equal(
        model.complete(images, known, seed=seeds, jit_compile=True, **kwargs).numpy(),
        model.complete(images, known, seed=seeds, jit_compile=False, **kwargs).numpy(),
    )


def test_xla_is_refused_where_it_does_not_apply():
    model = _model("grey_two_levels")
    with pytest.raises(ValueError, match="jit_compile=True.*method='naive'"):
        model.sample(1, seed=0, method="naive", jit_compile=True)


def test_sampling_compiles_with_xla_by_default(monkeypatch):
    from pixel_keras.sampling import sampler

    model = _model("grey_two_levels")
    monkeypatch.delenv(sampler.XLA_ENVIRONMENT_VARIABLE, raising=False)
    assert sampler._resolve_jit_compile(model, "cached", None) is True
    assert sampler._resolve_jit_compile(model, "naive", None) is False
    assert sampler._resolve_jit_compile(model, "cached", False) is False
    monkeypatch.setenv(sampler.XLA_ENVIRONMENT_VARIABLE, "0")
    assert sampler._resolve_jit_compile(model, "cached", None) is False
    assert sampler._resolve_jit_compile(model, "cached", True) is True
