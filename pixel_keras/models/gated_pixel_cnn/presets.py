"""Gated PixelCNN presets: named constructor arguments, as plain data."""

# Each preset is the full set of constructor arguments of the model.
# `num_filters` is p, the gated feature maps of each stack (the
# convolutions output 2p pre-activations); `kernel_size` is n, the stacks'
# n x n footprint.
GATED_PIXEL_CNN_PRESETS = {
    # The paper's CIFAR-10 model (van den Oord et al., 2016, section 3.1:
    # 3.03 bits/dim): 20 layers of 384 feature maps with 5 x 5 filters.
    # The paper does not give the output stack's width; 1024 as the
    # PixelRNN paper's PixelCNN.
    "cifar10": {
        "image_shape": (32, 32, 3),
        "num_levels": 256,
        "num_filters": 384,
        "num_layers": 20,
        "kernel_size": 5,
        "output_filters": 1024,
    },
    # Binarized MNIST (a Bernoulli per pixel): 10 layers of 128, the size
    # of the port that reports about 81.5 nats (SPEC section 7).
    "binarized_mnist": {
        "image_shape": (28, 28, 1),
        "num_levels": 2,
        "num_filters": 128,
        "num_layers": 10,
        "kernel_size": 5,
        "output_filters": 256,
    },
    # A prior over a 32 x 32 map of 512 discrete codes (a VQ-VAE's), whose
    # values are unordered: a learned embedding per code. For the VQ-VAE-2
    # bottom prior, add `conditional_shape=(16, 16, d)`: the top map's
    # (embedded) codes, upsampled to 32 x 32.
    "vqvae_prior": {
        "image_shape": (32, 32, 1),
        "num_levels": 512,
        "num_filters": 128,
        "num_layers": 15,
        "kernel_size": 5,
        "output_filters": 512,
        "input_encoding": "embedding",
        "embedding_dim": 64,
    },
    # The embedded 8x8 digits (17 grey levels), and tests.
    "tiny": {
        "image_shape": (8, 8, 1),
        "num_levels": 17,
        "num_filters": 16,
        "num_layers": 3,
        "kernel_size": 3,
        "output_filters": 32,
    },
}
