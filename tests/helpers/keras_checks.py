"""The Keras-style checks every layer and model goes through."""

import os
import tempfile
import types

import keras
import numpy as np
import tensorflow as tf

def _to_numpy(value):
    return np.asarray(keras.ops.convert_to_numpy(value))


def _assert_same(actual, expected, atol, what):
    actual, expected = _to_numpy(actual), _to_numpy(expected)
    assert actual.shape == expected.shape, (what, actual.shape, expected.shape)
    np.testing.assert_allclose(actual, expected, rtol=0, atol=atol, err_msg=what)


def _is_array(value):
    return isinstance(value, (np.ndarray, tf.Tensor)) or keras.ops.is_tensor(value)


def check_layer(
    layer_class,
    init_kwargs,
    input_data,
    *,
    call_kwargs=None,
    prepare=None,
    expected_output_shape=None,
    expected_num_weights=None,
    expected_config=None,
    tmp_path=None,
    atol=0.0,
):
    """The Keras-style checks every public layer goes through.

    Modelled on Keras' `TestCase.run_layer_test` (its serialization test)
    and keras-hub's saving test:

    1. Builds `layer_class(**init_kwargs)` on `input_data` (called with
       `call_kwargs`) and checks the output shape and number of weights when
       they are given; `prepare(layer)` may then change the weights (move
       them off their initial values, so that every weight matters).
    2. `get_config` / `from_config`: the configs are equal (and hold
       `expected_config`), a fresh instance and its clone have the same
       attributes, and the clone, given the layer's weights, computes the
       same outputs.
    3. `serialize_keras_object` / `deserialize_keras_object`: the same class
       and config.
    4. A `.keras` file (`keras.saving.save_model` / `load_model`) of a
       functional model of the layer: the loaded layer is of the same class
       and computes the same outputs.

    Args:
        layer_class: the layer class.
        init_kwargs: dict, the constructor's arguments.
        input_data: the first argument of `call`, an array.
        call_kwargs: dict of `call`'s other arguments; arrays among them
            become inputs of the saved model, the rest are passed as given.
        prepare: optional `prepare(layer)`, called after building.
        expected_output_shape: optional tuple.
        expected_num_weights: optional int, `len(layer.weights)`.
        expected_config: optional dict that the config must contain.
        tmp_path: folder for the `.keras` file (pytest's `tmp_path`);
            None for a temporary folder.
        atol: allowed difference of outputs (0: identical).

    Returns:
        A namespace: `layer`, `outputs`, `clone` (from the config),
        `revived` (deserialized) and `loaded` (from the `.keras` file).
    """
    call_kwargs = dict(call_kwargs or {})
    layer = layer_class(**init_kwargs)
    layer(input_data, **call_kwargs)
    if prepare is not None:
        prepare(layer)
    outputs = layer(input_data, **call_kwargs)
    if expected_output_shape is not None:
        assert tuple(outputs.shape) == tuple(expected_output_shape), outputs.shape
    if expected_num_weights is not None:
        assert len(layer.weights) == expected_num_weights, [w.path for w in layer.weights]

    # get_config / from_config.
    config = layer.get_config()
    for key, value in (expected_config or {}).items():
        assert config[key] == value, (key, config[key], value)
    clone = layer_class.from_config(config)
    assert clone.get_config() == config
    fresh = layer_class(**init_kwargs)
    assert set(dir(layer_class.from_config(fresh.get_config()))) == set(dir(fresh))
    clone(input_data, **call_kwargs)
    clone.set_weights(layer.get_weights())
    _assert_same(clone(input_data, **call_kwargs), outputs, atol, "from_config")

    # serialize_keras_object / deserialize_keras_object.
    revived = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(revived) is layer_class
    assert revived.get_config() == config

    # The .keras file of a functional model of the layer.
    data = np.asarray(keras.ops.convert_to_numpy(input_data))
    inputs = {"inputs": keras.Input(data.shape[1:], dtype=data.dtype.name, name="inputs")}
    values = {"inputs": data}
    symbolic_kwargs = {}
    for name, value in call_kwargs.items():
        if _is_array(value):
            array = np.asarray(keras.ops.convert_to_numpy(value))
            inputs[name] = keras.Input(array.shape[1:], dtype=array.dtype.name, name=name)
            values[name] = array
            symbolic_kwargs[name] = inputs[name]
        else:
            symbolic_kwargs[name] = value
    model = keras.Model(inputs, layer(inputs["inputs"], **symbolic_kwargs))
    _assert_same(model(values), outputs, atol, "functional model")
    folder = tmp_path if tmp_path is not None else tempfile.mkdtemp()
    path = os.path.join(str(folder), f"{layer_class.__name__}.keras")
    keras.saving.save_model(model, path)
    loaded_model = keras.saving.load_model(path)
    loaded = loaded_model.get_layer(layer.name)
    assert type(loaded) is layer_class
    assert loaded.get_config() == config
    _assert_same(loaded_model(values), outputs, atol, ".keras")
    return types.SimpleNamespace(
        layer=layer, outputs=outputs, clone=clone, revived=revived, loaded=loaded
    )


def check_model(model, images, condition=None, *, tmp_path=None, rtol=0.0):
    """The Keras-style checks every model family goes through.

    Modelled on keras-hub's `run_model_saving_test`:

    1. `get_config` / `from_config`: the configs are equal, and the clone,
       given the model's weights, has the same outputs and `log_prob`.
    2. A `.keras` file (`keras.saving.save_model` / `load_model`): a model
       of the same class and config, with the same outputs and `log_prob`;
       a compiled model's optimizer comes back with its step count.

    Args:
        model: a pixel_keras model.
        images: `(batch, *image_shape)` integer-valued images.
        condition: the condition of a conditional model, else None.
        tmp_path: folder for the `.keras` file (pytest's `tmp_path`);
            None for a temporary folder.
        rtol: allowed relative difference of outputs and `log_prob` (0:
            identical).

    Returns:
        A namespace: `clone`, `loaded` and the model's `log_prob`.
    """
    inputs = model.make_inputs(images, condition)
    outputs = _to_numpy(model(inputs, training=False))
    log_prob = _to_numpy(model.log_prob(images, condition))
    config = model.get_config()

    def assert_same_model(other, what):
        assert type(other) is type(model), (what, type(other))
        assert other.get_config() == config, what
        np.testing.assert_allclose(
            _to_numpy(other(inputs, training=False)), outputs, rtol=rtol, atol=0, err_msg=what
        )
        np.testing.assert_allclose(
            _to_numpy(other.log_prob(images, condition)), log_prob, rtol=rtol, atol=0,
            err_msg=what,
        )

    clone = type(model).from_config(config)
    clone.set_weights(model.get_weights())
    assert_same_model(clone, "from_config")

    folder = tmp_path if tmp_path is not None else tempfile.mkdtemp()
    path = os.path.join(str(folder), f"{model.name}.keras")
    keras.saving.save_model(model, path)
    loaded = keras.saving.load_model(path)
    assert_same_model(loaded, ".keras")
    if getattr(model, "optimizer", None) is not None:
        assert type(loaded.optimizer) is type(model.optimizer)
        assert int(loaded.optimizer.iterations) == int(model.optimizer.iterations)
    return types.SimpleNamespace(clone=clone, loaded=loaded, log_prob=log_prob)
