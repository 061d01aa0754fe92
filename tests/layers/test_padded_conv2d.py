"""`padded_conv2d`: every backward pass gives TensorFlow's gradients, and
the measured choice between them."""

import numpy as np
import pytest
import tensorflow as tf

from pixel_keras import layers
from pixel_keras.layers import padded_conv2d as padded_conv2d_module
from pixel_keras.layers.padded_conv2d import padded_conv2d
from tests import helpers


def _value_and_gradients(inputs, kernel, padding, backward, weights):
    inputs = tf.constant(inputs)
    kernel = tf.constant(kernel)
    with tf.GradientTape() as tape:
        tape.watch([inputs, kernel])
        outputs = padded_conv2d(inputs, kernel, padding, backward=backward)
        # A weighted sum, so that every output position has its own gradient.
        loss = tf.reduce_sum(outputs * weights)
    return [t.numpy() for t in (outputs, *tape.gradient(loss, [inputs, kernel]))]


# Every backward pass but TensorFlow's own, the reference.
OTHER_PASSES = [
    name for name in padded_conv2d_module.BACKWARD_PASSES if name != "tensorflow"
]

SHAPES = [
    ((2, 3), ((1, 0), (1, 1))),  # down-shifted
    ((2, 2), ((1, 0), (1, 0))),  # down-right-shifted
    ((1, 3), ((0, 0), (1, 1))),
    ((2, 1), ((1, 0), (0, 0))),
    ((3, 3), ((2, 1), (0, 2))),  # asymmetric, grows the map
    ((3, 2), ((0, 0), (0, 0))),  # no padding, shrinks it
]
# "same" applies to the convolutions that keep the map's size only.
CASES = [
    (kernel_size, padding, backward)
    for kernel_size, padding in SHAPES
    for backward in OTHER_PASSES
    if backward not in padded_conv2d_module.SIZE_KEEPING_PASSES
    or padded_conv2d_module._keeps_size(kernel_size, padding)
]


@pytest.mark.parametrize("kernel_size, padding, backward", CASES)
def test_gradients_equal_tensorflow_autodiff(kernel_size, padding, backward):
    rng = np.random.default_rng(0)
    inputs = rng.normal(size=(3, 7, 6, 5))
    kernel = rng.normal(size=(*kernel_size, 5, 4))
    (top, bottom), (left, right) = padding
    out_shape = (
        3,
        7 + top + bottom - kernel_size[0] + 1,
        6 + left + right - kernel_size[1] + 1,
        4,
    )
    weights = rng.normal(size=out_shape)
    ours = _value_and_gradients(inputs, kernel, padding, backward, weights)
    reference = _value_and_gradients(inputs, kernel, padding, "tensorflow", weights)
    assert ours[0].shape == out_shape
    for got, expected in zip(ours, reference):
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10)
    # And the reference is the plain padded convolution's autodiff.
    with tf.GradientTape() as tape:
        x = tf.constant(inputs)
        tape.watch(x)
        padded = tf.pad(x, [[0, 0], [top, bottom], [left, right], [0, 0]])
        loss = tf.reduce_sum(tf.nn.conv2d(padded, kernel, 1, "VALID") * weights)
    np.testing.assert_allclose(ours[1], tape.gradient(loss, x).numpy(), rtol=1e-10)


@pytest.mark.parametrize("backward", [*OTHER_PASSES, None])
def test_unknown_batch_and_size_in_a_traced_function(backward):
    kernel = tf.constant(np.random.default_rng(1).normal(size=(2, 3, 2, 3)), tf.float32)

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 2], tf.float32)])
    def gradient(inputs):
        with tf.GradientTape() as tape:
            tape.watch([inputs, kernel])
            outputs = padded_conv2d(inputs, kernel, ((1, 0), (1, 1)), backward=backward)
            loss = tf.reduce_sum(tf.square(outputs))
        return tape.gradient(loss, [inputs, kernel])

    inputs = tf.random.stateless_normal([2, 5, 4, 2], seed=[0, 1])
    got = gradient(inputs)
    with tf.GradientTape() as tape:
        tape.watch([inputs, kernel])
        outputs = padded_conv2d(inputs, kernel, ((1, 0), (1, 1)), backward="tensorflow")
        loss = tf.reduce_sum(tf.square(outputs))
    expected = tape.gradient(loss, [inputs, kernel])
    for a, b in zip(got, expected):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("backward", OTHER_PASSES)
def test_second_order_gradients_equal_tensorflow_autodiff(backward):
    # A gradient penalty differentiates the input gradient again.
    rng = np.random.default_rng(2)
    inputs = tf.constant(rng.normal(size=(2, 5, 5, 3)))
    kernel = tf.constant(rng.normal(size=(2, 3, 3, 4)))

    def penalty_gradient(backward):
        with tf.GradientTape() as outer:
            outer.watch(kernel)
            with tf.GradientTape() as inner:
                inner.watch(inputs)
                outputs = padded_conv2d(inputs, kernel, ((1, 0), (1, 1)), backward=backward)
                loss = tf.reduce_sum(tf.sin(outputs))
            penalty = tf.reduce_sum(tf.square(inner.gradient(loss, inputs)))
        return outer.gradient(penalty, kernel).numpy()

    np.testing.assert_allclose(
        penalty_gradient(backward), penalty_gradient("tensorflow"), rtol=1e-10, atol=1e-10
    )


def test_padding_at_least_the_kernel_size_is_rejected():
    with pytest.raises(ValueError, match=r"padding=\(\(2, 0\), \(1, 1\)\)"):
        padded_conv2d(tf.ones([1, 4, 4, 1]), tf.ones([2, 3, 1, 1]), ((2, 0), (1, 1)))


def test_bad_backward_arguments_are_named(monkeypatch):
    inputs, kernel = tf.ones([1, 4, 4, 1]), tf.ones([2, 3, 1, 1])
    with pytest.raises(ValueError, match=r"`backward` in .*Received: backward='fast'"):
        padded_conv2d(inputs, kernel, ((1, 0), (1, 1)), backward="fast")
    with pytest.raises(ValueError, match=r"backward='same'.*padding=\(\(0, 0\)"):
        padded_conv2d(inputs, kernel, ((0, 0), (1, 1)), backward="same")
    monkeypatch.setenv("PIXEL_KERAS_CONV", "fastest")
    with pytest.raises(ValueError, match=r"PIXEL_KERAS_CONV .*Received: 'fastest'"):
        padded_conv2d_module.choose_backward((1, 4, 4, 1), (2, 3, 1, 1), ((1, 0), (1, 1)), "float32")


# --- The measured choice ---------------------------------------------------------


@pytest.fixture
def fresh_choices(monkeypatch):
    """An empty cache of choices, no pinned backward pass, and a fake clock:
    `timings` says how long each backward pass takes."""
    monkeypatch.delenv(padded_conv2d_module.ENVIRONMENT_VARIABLE, raising=False)
    monkeypatch.setattr(padded_conv2d_module, "_CHOICES", {})
    monkeypatch.setattr(padded_conv2d_module, "_TIMINGS", {})
    calls = []
    timings = {
        "tensorflow": 3.0,
        "forward": 2.0,
        "same": 1.0,
        "matmul": 1.5,
        "forward_same": 1.2,
    }

    def measure(input_shape, kernel_shape, padding, dtype, candidates):
        calls.append((input_shape, kernel_shape, padding, dtype, tuple(candidates)))
        return {name: timings[name] for name in candidates}

    monkeypatch.setattr(padded_conv2d_module, "_measure", measure)
    return calls, timings


BIG = ((None, 28, 28, 64), (2, 3, 64, 32), ((1, 0), (1, 1)))


def test_the_fastest_measured_backward_pass_is_chosen_once_per_shape(fresh_choices):
    calls, timings = fresh_choices
    choose = padded_conv2d_module.choose_backward
    assert choose(*BIG, tf.float32) == "same"
    assert choose(*BIG, tf.float32) == "same"
    # Measured once, at the measurement batch when the traced one is unknown.
    assert len(calls) == 1
    assert calls[0][0] == (padded_conv2d_module.MEASURED_BATCH, 28, 28, 64)
    # Another dtype or padding is another choice.
    timings["forward"] = 0.5
    assert choose(*BIG, tf.float16) == "forward"
    grows = ((None, 28, 28, 64), (2, 3, 64, 32), ((1, 1), (1, 1)))
    assert choose(*grows, tf.float32) == "forward"
    # It does not keep the size.
    assert "same" not in calls[-1][-1] and "forward_same" not in calls[-1][-1]
    assert "matmul" in calls[-1][-1]
    assert len(calls[0][-1]) == len(padded_conv2d_module.BACKWARD_PASSES)
    assert len(calls) == 3
    (shape, kernel, padding, dtype, seconds, choice), *_ = (
        padded_conv2d_module.measured_backward_passes()
    )
    assert (shape, dtype, choice) == (BIG[0], "float32", "same") and seconds["same"] == 1.0


def test_small_or_unknown_convolutions_take_the_device_default(fresh_choices):
    calls, _ = fresh_choices
    choose = padded_conv2d_module.choose_backward
    default = padded_conv2d_module.default_backward()
    assert choose((4, 8, 8, 8), (2, 3, 8, 8), ((1, 0), (1, 1)), tf.float32) == default
    assert choose((None, None, None, 64), BIG[1], BIG[2], tf.float32) == default
    assert not calls


def test_an_environment_variable_pins_the_backward_pass(fresh_choices, monkeypatch):
    calls, _ = fresh_choices
    choose = padded_conv2d_module.choose_backward
    monkeypatch.setenv("PIXEL_KERAS_CONV", "tensorflow")
    assert choose(*BIG, tf.float32) == "tensorflow"
    grows = ((None, 28, 28, 64), (2, 3, 64, 32), ((1, 1), (1, 1)))
    monkeypatch.setenv("PIXEL_KERAS_CONV", "matmul")
    assert choose(*BIG, tf.float32) == "matmul"
    assert choose(*grows, tf.float32) == "matmul"
    for size_keeping in padded_conv2d_module.SIZE_KEEPING_PASSES:
        monkeypatch.setenv("PIXEL_KERAS_CONV", size_keeping)
        assert choose(*BIG, tf.float32) == size_keeping
        # Where it does not apply, the device's default.
        assert choose(*grows, tf.float32) == padded_conv2d_module.default_backward()
    assert not calls


def test_the_traced_gradient_uses_the_choice(fresh_choices, monkeypatch):
    used = []
    for name, function in list(padded_conv2d_module._GRADIENTS.items()):
        monkeypatch.setitem(
            padded_conv2d_module._GRADIENTS,
            name,
            lambda *args, name=name, function=function: used.append(name) or function(*args),
        )
    inputs = tf.random.stateless_normal([2, 28, 28, 64], seed=[0, 5])
    kernel = tf.random.stateless_normal([2, 3, 64, 32], seed=[0, 6])
    with tf.GradientTape() as tape:
        tape.watch(kernel)
        loss = tf.reduce_sum(padded_conv2d(inputs, kernel, ((1, 0), (1, 1))))
    tape.gradient(loss, kernel)
    assert used == ["same"]  # the fake clock's fastest


def test_a_real_measurement_times_every_candidate():
    timings = padded_conv2d_module._measure(
        (2, 8, 8, 4), (2, 3, 4, 4), ((1, 0), (1, 1)), tf.float32,
        padded_conv2d_module.BACKWARD_PASSES,
    )
    assert sorted(timings) == sorted(padded_conv2d_module.BACKWARD_PASSES)
    assert all(seconds > 0 for seconds in timings.values())


def test_cpu_only_matches_the_visible_devices():
    visible = tf.config.list_physical_devices()
    assert padded_conv2d_module.cpu_only() == all(
        d.device_type == "CPU" for d in visible
    )


def _pixel_cnn_pp():
    from pixel_keras.models import PixelCNNPlusPlus

    return PixelCNNPlusPlus(
        image_shape=(8, 8, 3),
        num_filters=8,
        num_resnet=1,
        num_hierarchies=2,
        num_logistic_mix=2,
        dropout=0.0,
        num_classes=3,
    )


def _pixel_cnn():
    from pixel_keras.models import PixelCNN

    return PixelCNN(
        image_shape=(8, 8, 3),
        num_filters=12,
        num_layers=2,
        output_filters=12,
        num_classes=3,
    )


@pytest.mark.parametrize("make_model", [_pixel_cnn_pp, _pixel_cnn])
def test_model_gradients_equal_with_every_backward_pass(make_model, monkeypatch):
    helpers.set_random_seed(0)
    model = make_model()
    images = np.random.default_rng(0).integers(0, 256, size=(4, 8, 8, 3))
    labels = np.array([0, 1, 2, 1])

    def gradients():
        with tf.GradientTape() as tape:
            loss = -tf.reduce_mean(model.log_prob(images, condition=labels))
        return [g.numpy() for g in tape.gradient(loss, model.trainable_variables)]

    monkeypatch.setenv(padded_conv2d_module.ENVIRONMENT_VARIABLE, "tensorflow")
    reference = gradients()
    for backward in OTHER_PASSES:
        monkeypatch.setenv(padded_conv2d_module.ENVIRONMENT_VARIABLE, backward)
        ours = gradients()
        assert len(ours) == len(reference) == len(model.trainable_variables)
        for got, expected in zip(ours, reference):
            scale = np.abs(expected).max() + 1e-12
            np.testing.assert_allclose(got / scale, expected / scale, atol=1e-5)


@pytest.mark.parametrize(
    "layer_class", [layers.DownShiftedConv2D, layers.DownRightShiftedConv2D]
)
def test_shifted_layers_under_mixed_precision(layer_class):
    layer = layer_class(4, dtype="mixed_float16")
    inputs = tf.random.stateless_normal([2, 6, 6, 3], seed=[0, 2])
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        outputs = layer(inputs)
        loss = tf.reduce_sum(tf.cast(outputs, tf.float32))
    gradients = tape.gradient(loss, [inputs, *layer.trainable_variables])
    assert outputs.dtype == tf.float16
    assert all(np.isfinite(g.numpy()).all() for g in gradients)
