"""PixelCNN++ presets: named constructor arguments, as plain data."""

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
