"""`padded_conv2d`: its forward-convolution gradients equal TensorFlow's."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from pixel_keras import layers
from pixel_keras.layers import padded_conv2d as padded_conv2d_module
from pixel_keras.layers.padded_conv2d import padded_conv2d


def _value_and_gradients(inputs, kernel, padding, forward_gradients, weights):
    inputs = tf.constant(inputs)
    kernel = tf.constant(kernel)
    with tf.GradientTape() as tape:
        tape.watch([inputs, kernel])
        outputs = padded_conv2d(inputs, kernel, padding, forward_gradients)
        # A weighted sum, so that every output position has its own gradient.
        loss = tf.reduce_sum(outputs * weights)
    return [t.numpy() for t in (outputs, *tape.gradient(loss, [inputs, kernel]))]


@pytest.mark.parametrize(
    "kernel_size, padding",
    [
        ((2, 3), ((1, 0), (1, 1))),  # down-shifted
        ((2, 2), ((1, 0), (1, 0))),  # down-right-shifted
        ((1, 3), ((0, 0), (1, 1))),
        ((2, 1), ((1, 0), (0, 0))),
        ((3, 3), ((2, 1), (0, 2))),  # asymmetric, grows the map
        ((3, 2), ((0, 0), (0, 0))),  # no padding, shrinks it
    ],
)
def test_gradients_equal_tensorflow_autodiff(kernel_size, padding):
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
    ours = _value_and_gradients(inputs, kernel, padding, True, weights)
    reference = _value_and_gradients(inputs, kernel, padding, False, weights)
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


def test_unknown_batch_and_size_in_a_traced_function():
    kernel = tf.constant(np.random.default_rng(1).normal(size=(2, 3, 2, 3)), tf.float32)

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 2], tf.float32)])
    def gradient(inputs):
        with tf.GradientTape() as tape:
            tape.watch([inputs, kernel])
            outputs = padded_conv2d(inputs, kernel, ((1, 0), (1, 1)), True)
            loss = tf.reduce_sum(tf.square(outputs))
        return tape.gradient(loss, [inputs, kernel])

    inputs = tf.random.stateless_normal([2, 5, 4, 2], seed=[0, 1])
    got = gradient(inputs)
    with tf.GradientTape() as tape:
        tape.watch([inputs, kernel])
        outputs = padded_conv2d(inputs, kernel, ((1, 0), (1, 1)), False)
        loss = tf.reduce_sum(tf.square(outputs))
    expected = tape.gradient(loss, [inputs, kernel])
    for a, b in zip(got, expected):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-5)


def test_second_order_gradients_equal_tensorflow_autodiff():
    # A gradient penalty differentiates the input gradient again.
    rng = np.random.default_rng(2)
    inputs = tf.constant(rng.normal(size=(2, 5, 5, 3)))
    kernel = tf.constant(rng.normal(size=(2, 3, 3, 4)))

    def penalty_gradient(forward_gradients):
        with tf.GradientTape() as outer:
            outer.watch(kernel)
            with tf.GradientTape() as inner:
                inner.watch(inputs)
                outputs = padded_conv2d(
                    inputs, kernel, ((1, 0), (1, 1)), forward_gradients
                )
                loss = tf.reduce_sum(tf.sin(outputs))
            penalty = tf.reduce_sum(tf.square(inner.gradient(loss, inputs)))
        return outer.gradient(penalty, kernel).numpy()

    np.testing.assert_allclose(
        penalty_gradient(True), penalty_gradient(False), rtol=1e-10, atol=1e-10
    )


def test_padding_at_least_the_kernel_size_is_rejected():
    with pytest.raises(ValueError, match=r"padding=\(\(2, 0\), \(1, 1\)\)"):
        padded_conv2d(tf.ones([1, 4, 4, 1]), tf.ones([2, 3, 1, 1]), ((2, 0), (1, 1)))


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
def test_model_gradients_equal_with_and_without_forward_gradients(
    make_model, monkeypatch
):
    keras.utils.set_random_seed(0)
    model = make_model()
    images = np.random.default_rng(0).integers(0, 256, size=(4, 8, 8, 3))
    labels = np.array([0, 1, 2, 1])

    def gradients():
        with tf.GradientTape() as tape:
            loss = -tf.reduce_mean(model.log_prob(images, condition=labels))
        return [g.numpy() for g in tape.gradient(loss, model.trainable_variables)]

    monkeypatch.setattr(padded_conv2d_module, "cpu_only", lambda: True)
    ours = gradients()
    monkeypatch.setattr(padded_conv2d_module, "cpu_only", lambda: False)
    reference = gradients()
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
