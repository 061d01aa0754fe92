"""PixelRNN presets: named constructor arguments, as plain data."""

# Each preset is the full set of constructor arguments of the model.
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
