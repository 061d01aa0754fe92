"""The cached PixelSNAIL sampler: the same network (convolution buffers and
growing key/value caches), the same draws as the naive loop."""

import math

import numpy as np
import pytest
import tensorflow as tf

from pixel_keras import compression
from pixel_keras import sampling
from pixel_keras.models import PixelSNAIL
from pixel_keras.models.pixel_snail import cached_sampler as cached
from pixel_keras.serving import serving_functions
from tests import helpers

# Constructor arguments over the `tiny` preset's: grey and colour, one and
# two heads, non-square, labels; the mixture head and the categorical one
# (unordered codes in one channel, the VQ-VAE-2 prior's case; colour with
# one-hot values, whose channels read the earlier ones through the head's
# mask-A convolution).
CONFIGS = {
    "grey": dict(image_shape=(5, 4, 1), num_levels=17, num_logistic_mix=2),
    "rgb_two_heads_classes": dict(
        image_shape=(4, 5, 3), num_levels=16, num_resnet=2, num_heads=2,
        num_logistic_mix=2, num_classes=3,
    ),
    "categorical_codes": dict(
        image_shape=(4, 5, 1), num_levels=11, head="categorical",
        input_encoding="embedding", output_filters=12,
    ),
    "categorical_rgb_one_hot_classes": dict(
        image_shape=(3, 4, 3), num_levels=5, head="categorical", input_encoding="one_hot",
        num_heads=2, num_classes=3, output_filters=12,
    ),
}


def _model(name):
    helpers.set_random_seed(0)
    arguments = dict(
        num_filters=8, num_resnet=1, num_heads=1, key_dim=4, value_dim=6, dropout=0.0
    )
    arguments.update(CONFIGS[name])
    model = PixelSNAIL.from_preset("tiny", **arguments)
    # Every weight off its initial value, so that every layer (the gates
    # start near the identity) changes the outputs.
    return helpers.perturb_weights(model, 0.05)


@pytest.fixture(scope="module", params=sorted(CONFIGS))
def model(request):
    return _model(request.param)


@pytest.mark.parametrize("by_rows", [False, True], ids=["by_pixels", "by_rows"])
def test_cached_outputs_equal_the_network_on_any_image(model, by_rows):
    images = np.random.default_rng(1).integers(0, model.num_levels, (3, *model.image_shape))
    condition = helpers.class_labels(model, 3)
    expected = model(model.make_inputs(images, condition), training=False).numpy()
    actual = cached.outputs(model, images, condition, by_rows=by_rows).numpy()
    assert np.std(expected) > 0.05
    np.testing.assert_allclose(actual, expected, atol=1e-5, rtol=1e-5)


def test_cached_and_naive_samples_are_identical(model):
    seeds = sampling.per_image_seeds(5, 4)
    temperature = np.linspace(0.6, 1.4, 4).astype(np.float32)
    kwargs = {"condition": helpers.class_labels(model, 4), "temperature": temperature}
    naive = model.sample(4, seed=seeds, method="naive", **kwargs).numpy()
    fast = model.sample(4, seed=seeds, method="cached", **kwargs).numpy()
    np.testing.assert_array_equal(fast, naive)
    assert len(np.unique(fast)) > 2


@pytest.mark.parametrize(
    "known_rows", [pytest.param(0, marks=pytest.mark.slow), 2]
)
def test_cached_and_naive_completions_are_identical(model, known_rows):
    # The rows above the first unknown pixel go through the row pass (their
    # keys and values written a row at a time), the rest through the pixel
    # loop; one image knows more, one knows random pixels further down.
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
    assert np.any(fast[~known] != images[~known])


@pytest.mark.slow  # two XLA compiles: about 15 s
def test_xla_compiled_loop_draws_the_same_images_as_the_plain_one():
    model = _model("rgb_two_heads_classes")
    seeds = sampling.per_image_seeds(7, 2)
    kwargs = {"condition": np.array([2, 0]), "temperature": 0.8}
    plain = model.sample(2, seed=seeds, jit_compile=False, **kwargs).numpy()
    np.testing.assert_array_equal(
        model.sample(2, seed=seeds, jit_compile=True, **kwargs).numpy(), plain
    )
    known = np.zeros(plain.shape[:3], bool)
    known[:, :2] = True
    np.testing.assert_array_equal(
        model.complete(plain, known, seed=seeds, jit_compile=True, **kwargs).numpy(),
        model.complete(plain, known, seed=seeds, jit_compile=False, **kwargs).numpy(),
    )


def test_cached_loop_traces_with_an_unknown_batch():
    # As in an exported serving function.
    model = _model("grey")
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


def test_export_signatures_sample_like_the_model_without_xla():
    # The export's sampling signatures, traced for any batch (core ops, no
    # XLA), draw what the naive loop draws.
    model = _model("rgb_two_heads_classes")
    functions = serving_functions(model)
    function, signature = functions["sample_with_temperature"]
    traced = tf.function(function, input_signature=signature)
    names = [spec.name for spec in signature]
    seeds = sampling.per_image_seeds(3, 2)
    inputs = {"seed": seeds, "temperature": np.float32([1.0, 0.7]), "condition": np.int32([1, 2])}
    outputs = traced(**{name: tf.constant(inputs[name]) for name in names})
    expected = model.sample(
        2, seed=seeds, condition=[1, 2], temperature=inputs["temperature"], method="naive"
    )
    (images,) = [value for value in outputs.values() if value.shape.rank == 4]
    np.testing.assert_array_equal(images.numpy(), expected.numpy())
    graph = traced.get_concrete_function().graph
    assert not helpers.broadcasting_matmuls(graph)
    ops = {op.type for function in graph._functions.values() for op in function.graph.get_operations()}
    ops |= {op.type for op in graph.get_operations()}
    assert not {op for op in ops if op.startswith("Xla")}, ops


@pytest.mark.parametrize(
    "batch, everything",
    # Each trace costs seconds: by default the unknown batch (the export's)
    # through the model and the cached computation (the export test above
    # audits the cached loop); the train step and both loops, and batch 1,
    # with -m slow.
    [
        (None, False),
        pytest.param(None, True, marks=pytest.mark.slow),
        pytest.param(1, True, marks=pytest.mark.slow),
    ],
)
def test_no_traced_function_broadcasts_a_batched_matmul(batch, everything):
    model = _model("rgb_two_heads_classes")
    model.compile()
    shape = model.image_shape
    images = tf.TensorSpec([batch, *shape], tf.float32)
    labels = tf.TensorSpec([batch], tf.int32)
    functions = {
        "teacher-forced": tf.function(
            lambda images, labels: cached.outputs(model, images, labels, by_rows=False)
        ).get_concrete_function(images, labels),
        "log_prob": tf.function(model.log_prob).get_concrete_function(images, labels),
    }
    if everything:
        functions["train_step"] = tf.function(model.train_step).get_concrete_function(
            {"images": images, "condition": labels}
        )
    for method in sampling.METHODS if everything else []:
        functions[method] = tf.function(
            lambda images, known, seeds, labels, temperature, method=method: sampling.draw(
                model, images, known, seeds, labels, temperature, method
            )
        ).get_concrete_function(
            images,
            tf.TensorSpec([batch, *shape[:2]], tf.bool),
            tf.TensorSpec([batch, 2], tf.int32),
            labels,
            tf.TensorSpec([batch], tf.float32),
        )
    found = [
        f"{name} -> {line}"
        for name, function in functions.items()
        for line in helpers.broadcasting_matmuls(function.graph)
    ]
    assert not found, "\n".join(found)


def test_compression_round_trip_through_the_value_hook():
    # The coder drives the cached loop's value-choosing hook: the decoded
    # pixels are the given ones, and the file is as long as the model's
    # code length.
    model = _model("rgb_two_heads_classes")
    images = np.random.default_rng(3).integers(0, model.num_levels, (3, *model.image_shape))
    images = images.astype(np.uint8)
    labels = np.array([0, 1, 2])
    data = compression.compress(model, images, labels, batch_size=2)
    np.testing.assert_array_equal(compression.decompress(model, data), images)
    code_bits = -float(np.sum(model.log_prob(images, labels).numpy())) / math.log(2.0)
    header = compression.read_header(data)
    payload_bits = 8 * sum(chunk.num_bytes for chunk in header.chunks)
    assert 0.99 * code_bits <= payload_bits <= 1.01 * code_bits + 64 * len(header.chunks)
