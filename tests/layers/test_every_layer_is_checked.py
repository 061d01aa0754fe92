"""Every public layer class of `pixel_keras.layers` goes through the shared
Keras-style check (`helpers.check_layer`) in some test of this folder."""

import ast
import inspect
import os

import keras

from pixel_keras import layers


def _names(node):
    return {
        sub.attr if isinstance(sub, ast.Attribute) else sub.id
        for sub in ast.walk(node)
        if isinstance(sub, (ast.Attribute, ast.Name))
    }


def _calls_check_layer(node):
    return any(
        isinstance(sub, ast.Call)
        and isinstance(sub.func, ast.Attribute)
        and sub.func.attr == "check_layer"
        for sub in ast.walk(node)
    )


def _checked_class_names():
    """The names that the test functions of tests/layers/ calling
    `helpers.check_layer` refer to, in their bodies and parametrizations,
    and through the module-level constants they read."""
    folder = os.path.dirname(os.path.abspath(__file__))
    names = set()
    for file_name in sorted(os.listdir(folder)):
        if not file_name.endswith(".py"):
            continue
        with open(os.path.join(folder, file_name)) as file:
            tree = ast.parse(file.read())
        constants = {}
        for node in tree.body:
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        constants[target.id] = _names(node.value)
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and _calls_check_layer(node):
                used = _names(node)
                for decorator in node.decorator_list:
                    used |= _names(decorator)
                for name in list(used):
                    used |= constants.get(name, set())
                names |= used
    return names


def test_every_public_layer_goes_through_check_layer():
    public = {
        name
        for name in layers.__all__
        if inspect.isclass(getattr(layers, name))
        and issubclass(getattr(layers, name), keras.layers.Layer)
    }
    assert "MaskedConv2D" in public and "WeightNormDense" in public
    missing = sorted(public - _checked_class_names())
    assert not missing, f"public layers that no test passes to helpers.check_layer: {missing}"
