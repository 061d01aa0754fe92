"""What a user passes to sampling is checked before any sampling work:
`temperature` (finite and > 0), `known_mask` (bool or 0/1 integers) and a
distribution's `sample_shape` (non-negative ints; 0 gives an empty sample,
as in TFP). Eagerly a `ValueError` names the argument; in a graph an
assertion does."""

import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from pixel_keras import sampling
from pixel_keras.sampling import sampler
from tests import helpers

tfd = tfp.distributions


@pytest.fixture(scope="module")
def model():
    # The fastest model to trace: a PixelCNN's loops trace in well under a
    # second at 3x3.
    return helpers.tiny_pixel_cnn(image_shape=(3, 3, 1), num_levels=4)


@pytest.fixture(scope="module")
def conditional():
    return helpers.tiny_pixel_cnn(image_shape=(3, 3, 1), num_levels=4, num_classes=2)


@pytest.fixture
def no_sampling(monkeypatch):
    """Fails a test whose call reaches the sampling loop."""

    def draw(*args, **kwargs):
        raise AssertionError("the sampling loop ran")

    monkeypatch.setattr(sampler, "draw", draw)


def _images(model, num):
    return np.zeros((num, *model.image_shape), np.int32)


# --- Temperature ------------------------------------------------------------------


BAD_TEMPERATURES = [
    (float("inf"), "temperature=inf"),
    (-np.inf, "temperature=-inf"),
    (float("nan"), "temperature=nan"),
    (0.0, "temperature=0.0"),
    (-1, "temperature=-1"),
    (np.float32(np.inf), "temperature=inf"),
    (1e300, r"temperature=1e\+300"),  # inf as the float32 the samplers use
    ("hot", "temperature='hot'"),
    (True, "temperature=True"),
    (None, "temperature=None"),
    ([1.0, np.inf], r"temperature=\[1.0, inf\]; the first offending value is inf at index \(1,\)"),
    ([1.0, 1.0, 1.0], r"temperature of shape \(3,\)"),
    ([[1.0, 1.0]], r"temperature of shape \(1, 2\)"),
]


@pytest.mark.parametrize("temperature, received", BAD_TEMPERATURES)
def test_bad_temperature_is_refused_before_sampling(model, no_sampling, temperature, received):
    expected = r"Expected `temperature` to be a finite number > 0, or one per image of shape \(2,\)"
    with pytest.raises(ValueError, match=f"{expected}. Received: {received}"):
        model.sample(2, seed=1, temperature=temperature)
    known = np.zeros((2, *model.image_shape[:2]), bool)
    with pytest.raises(ValueError, match=f"{expected}. Received: {received}"):
        model.complete(_images(model, 2), known, seed=1, temperature=temperature)


@pytest.mark.parametrize(
    "temperature, received",
    [(t, r) for t, r in BAD_TEMPERATURES if not isinstance(t, list)]
    + [([0.5, 0.5], r"temperature of shape \(2,\)")],
)
def test_bad_temperature_of_a_distribution_is_refused_when_built(model, temperature, received):
    expected = "Expected `temperature` to be a finite number > 0"
    with pytest.raises(ValueError, match=f"{expected}. Received: {received}"):
        model.as_distribution(temperature=temperature)


def test_good_temperatures_draw_as_before(model):
    # A Python int, a NumPy scalar, one per image and a tensor are the same
    # temperature.
    expected = model.sample(2, seed=3, temperature=2.0).numpy()
    for temperature in (2, np.float32(2.0), [2.0, 2.0], tf.constant(2.0)):
        np.testing.assert_array_equal(model.sample(2, seed=3, temperature=temperature), expected)
    cold = model.sample(2, seed=3, temperature=[2.0, 0.1]).numpy()
    np.testing.assert_array_equal(cold[0], expected[0])
    np.testing.assert_array_equal(
        model.as_distribution(temperature=np.float64(2.0)).sample(2, seed=[0, 3]),
        model.sample(2, seed=[0, 3], temperature=2.0),
    )


def test_a_temperature_variable_is_checked_when_sampling(model):
    temperature = tf.Variable(1.0)
    distribution = model.as_distribution(temperature=temperature)
    temperature.assign(np.inf)
    with pytest.raises(ValueError, match="temperature=inf"):
        distribution.sample(1, seed=[1, 2])


def test_the_loops_assert_the_temperature_in_a_graph(model):
    # As an exported signature calls them, with a temperature tensor.
    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
    def draw(temperature):
        batch = tf.shape(temperature)[0]
        shape = tf.concat([[batch], model.image_shape], 0)
        return sampling.draw(
            model,
            tf.zeros(shape),
            tf.zeros(shape[:3], tf.bool),
            tf.zeros([batch, 2], tf.int32),
            None,
            temperature,
        )

    assert draw(tf.constant([1.0, 0.5])).shape == (2, 3, 3, 1)
    for bad in ([1.0, np.inf], [np.nan, 1.0], [0.0, 1.0]):
        with pytest.raises(
            tf.errors.InvalidArgumentError,
            match=r"Expected `temperature` to be a finite number > 0\. Received: temperature",
        ):
            draw(tf.constant(bad))


@pytest.mark.parametrize("value", ["inf", "nan", "0", "-1"])
def test_main_refuses_a_temperature_that_is_not_finite_and_positive(value):
    # A flag error, before TensorFlow loads.
    run = subprocess.run(
        [sys.executable, "main.py", "sample", f"--temperature={value}"],
        cwd=helpers.ROOT, capture_output=True, text=True, timeout=60,
    )
    assert run.returncode != 0
    assert "--temperature must be a finite number > 0." in run.stderr


# --- Completion masks -------------------------------------------------------------


@pytest.mark.parametrize(
    "known_mask, received",
    [
        (np.full((2, 3, 3), 0.5), r"known_mask of dtype float64 with values in \[0.5, 0.5\]"),
        (np.ones((2, 3, 3), np.float32), "known_mask of dtype float32"),
        (
            np.full((2, 3, 3), 2),
            r"known_mask of dtype int64 with min 2 and max 2; the first offending "
            r"value is 2 at index \(0, 0, 0\)",
        ),
        (
            -np.eye(3, dtype=np.int32)[None].repeat(2, 0),
            "known_mask of dtype int32 with min -1 and max 0",
        ),
        (np.zeros((2, 3), bool), r"known_mask.shape=\(2, 3\)"),
        (np.zeros((1, 3, 3), bool), r"known_mask.shape=\(1, 3, 3\)"),
        ("all", "known_mask='all'"),
        (None, "known_mask=None"),
    ],
)
def test_bad_known_mask_is_refused_before_sampling(model, no_sampling, known_mask, received):
    expected = (
        r"Expected `known_mask` to be bool, or integers that are all 0 or 1, of "
        r"shape \(2, 3, 3\) \(batch, height, width\)"
    )
    with pytest.raises(ValueError, match=f"{expected}.*Received: {received}"):
        model.complete(_images(model, 2), known_mask, seed=1)


def test_a_0_1_integer_mask_is_the_bool_mask(model):
    images = np.random.default_rng(0).integers(0, 4, (2, 3, 3, 1))
    known = np.zeros((2, 3, 3), bool)
    known[:, 0] = True
    expected = model.complete(images, known, seed=2).numpy()
    np.testing.assert_array_equal(expected[known], images[known])
    for mask in (known.astype(np.uint8), known.astype(np.int64), tf.constant(known, tf.int32)):
        np.testing.assert_array_equal(model.complete(images, mask, seed=2), expected)


def test_an_integer_mask_is_asserted_in_a_graph(model):
    @tf.function(input_signature=[tf.TensorSpec([2, 3, 3], tf.uint8)])
    def complete(known_mask):
        return sampling.complete(
            model, tf.zeros([2, 3, 3, 1]), known_mask, seed=1, method="naive"
        )

    assert complete(tf.ones([2, 3, 3], tf.uint8)).shape == (2, 3, 3, 1)
    with pytest.raises(
        tf.errors.InvalidArgumentError,
        match=r"`known_mask` to be bool, or integers that are all 0 or 1.*"
        r"dtype uint8 with min\] \[0\] \[and max\] \[2\]",
    ):
        complete(tf.constant(np.eye(3, dtype=np.uint8)[None].repeat(2, 0) * 2))


# --- Sample shapes ------------------------------------------------------------


@pytest.mark.parametrize("sample_shape", [0, [0], [0, 2], (2, 0), np.int64(0)])
def test_an_empty_sample_shape_gives_an_empty_sample_as_in_tfp(model, conditional, sample_shape):
    for distribution, batch_shape in (
        (model.as_distribution(), ()),
        (conditional.as_distribution([0, 1]), (2,)),
    ):
        drawn = distribution.sample(sample_shape, seed=[1, 2])
        # TFP's own: sample_shape + batch_shape + event_shape.
        reference = tfd.Normal(tf.zeros(batch_shape), 1.0).sample(sample_shape, seed=[1, 2])
        assert drawn.shape == (*reference.shape, 3, 3, 1)
        assert drawn.dtype == tf.int32 and tf.size(drawn) == 0
        drawn, log_prob = distribution.experimental_sample_and_log_prob(
            sample_shape, seed=[1, 2]
        )
        assert drawn.shape == (*reference.shape, 3, 3, 1)
        assert log_prob.shape == reference.shape


@pytest.mark.parametrize(
    "sample_shape", [-1, [2, -1], 2.5, [2.0], "x", True, [True], None, [[1]], 2**31]
)
def test_bad_sample_shape_is_named(model, no_sampling, sample_shape):
    distribution = model.as_distribution()
    expected = (
        r"Expected `sample_shape` to be a non-negative int or a list of them "
        r"\(0 gives an empty sample\)\. Received: sample_shape="
    )
    with pytest.raises(ValueError, match=expected):
        distribution.sample(sample_shape, seed=[1, 2])
    with pytest.raises(ValueError, match=expected):
        distribution.experimental_sample_and_log_prob(sample_shape, seed=[1, 2])


def test_a_negative_sample_shape_is_asserted_in_a_graph(model):
    distribution = model.as_distribution()

    @tf.function(input_signature=[tf.TensorSpec([], tf.int32)])
    def sample(n):
        return distribution.sample(n, seed=[1, 2])

    assert sample(tf.constant(2)).shape == (2, 3, 3, 1)
    with pytest.raises(tf.errors.InvalidArgumentError, match="`sample_shape`"):
        sample(tf.constant(-1))
