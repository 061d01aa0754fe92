"""Reading and comparing weights and optimizer state."""

import numpy as np

def optimizer_averages(model):
    """The optimizer's EMA values, in the order of the model's trainable
    weights (Keras keeps them in private attributes)."""
    optimizer = model.optimizer
    return [
        optimizer._model_variables_moving_average[optimizer._get_variable_index(v)].numpy()
        for v in model.trainable_variables
    ]


def trainable_values(model):
    """The model's trainable weights, as NumPy."""
    return [v.numpy() for v in model.trainable_variables]


def assert_all_equal(actual, expected):
    assert len(actual) == len(expected)
    for a, b in zip(actual, expected):
        np.testing.assert_array_equal(a, b)


def any_differ(first, second):
    return any(not np.array_equal(a, b) for a, b in zip(first, second))
