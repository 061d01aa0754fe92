"""The data-dependent initialization of weight normalization: normalized
pre-activations in every layer, in forward order; training after it."""

import numpy as np

from pixel_keras import training
from pixel_keras.layers import weight_norm
from tests import helpers


def _record_outputs(model, inputs):
    """Each weight-normalized layer's outputs (its pre-activations) in one
    forward pass (dropout off)."""
    outputs = {}
    normalized = weight_norm.weight_normalized_layers(model)
    for layer in normalized:
        call = layer.call

        def recording(*args, _layer=layer, _call=call, **kwargs):
            result = _call(*args, **kwargs)
            outputs[_layer.path] = np.asarray(result)
            return result

        object.__setattr__(layer, "call", recording)
    try:
        model(inputs, training=False)
    finally:
        for layer in normalized:
            object.__delattr__(layer, "call")
    assert len(outputs) == len(normalized)
    return outputs


def _worst_moments(outputs):
    """The largest |mean| and |std - 1| of any channel of any layer."""
    worst_mean = worst_std = 0.0
    for values in outputs.values():
        flat = values.reshape(-1, values.shape[-1]).astype(np.float64)
        worst_mean = max(worst_mean, np.abs(flat.mean(axis=0)).max())
        worst_std = max(worst_std, np.abs(flat.std(axis=0) - 1.0).max())
    return worst_mean, worst_std


def test_data_dependent_init_normalizes_every_layer_in_forward_order():
    images, labels = helpers.digits(limit=64, labels=True)
    model = helpers.tiny_pixel_cnn_pp(weight_norm=True, num_resnet=2, num_classes=10)
    inputs = {"images": images, "condition": labels}
    worst_before = _worst_moments(_record_outputs(model, inputs))
    count = training.initialize_weight_norm(model, images, labels)
    # 3 stem convolutions; 2 convolutions per block and a skip projection in
    # every down-right and every up block (2 x (4 + 6) down, 12 + 18 up); 2
    # strided and 2 transposed convolutions; the output layer.
    assert count == len(weight_norm.weight_normalized_layers(model)) == 58
    worst_mean, worst_std = _worst_moments(_record_outputs(model, inputs))
    assert worst_mean < 1e-3 and worst_std < 1e-3, (worst_mean, worst_std)
    assert max(worst_before) > 0.1  # the check is not trivially met


def test_init_from_one_pass_of_the_uninitialized_network_fails_that_check():
    # The naive initialization: every layer's g and bias from the moments of
    # its outputs in ONE pass of the un-initialized network. Later layers are
    # then initialized on inputs that the earlier layers no longer produce.
    images = helpers.digits(limit=64)
    model = helpers.tiny_pixel_cnn_pp(weight_norm=True, num_resnet=2)
    raw = _record_outputs(model, images)
    for layer in weight_norm.weight_normalized_layers(model):
        g, bias = layer.kernel_g.numpy(), layer.bias.numpy()
        direction_outputs = (raw[layer.path] - bias) / g  # v / ||v|| applied
        flat = direction_outputs.reshape(-1, direction_outputs.shape[-1])
        mean, std = flat.mean(axis=0), flat.std(axis=0)
        layer.kernel_g.assign(1.0 / std)
        layer.bias.assign(-mean / std)
    worst_mean, worst_std = _worst_moments(_record_outputs(model, images))
    assert worst_mean > 0.1 or worst_std > 0.1, (worst_mean, worst_std)


def test_a_few_fit_steps_lower_the_loss():
    images = helpers.digits(limit=128)
    model = helpers.tiny_pixel_cnn_pp(num_hierarchies=1, weight_norm=True)
    training.initialize_weight_norm(model, images[:64])
    model.compile(optimizer=training.make_optimizer(learning_rate=5e-3))
    before = model.bits_per_dim(images).numpy().mean()
    model.fit(images, batch_size=32, epochs=2, verbose=0)
    after = model.bits_per_dim(images).numpy().mean()
    assert np.isfinite(after) and after < before - 0.3, (before, after)
