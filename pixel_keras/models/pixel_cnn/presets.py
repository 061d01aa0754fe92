"""PixelCNN presets: named constructor arguments, as plain data."""

# Each preset is the full set of constructor arguments of the model.
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
