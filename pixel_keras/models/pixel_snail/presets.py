"""PixelSNAIL presets: named constructor arguments, as plain data."""

# Each preset is the full set of constructor arguments of the model.
PIXEL_SNAIL_PRESETS = {
    # The official CIFAR-10 model, `h12_noup_smallkey` (2.85 bits/dim): 12
    # blocks of 4 gated resnets and one attention, 256 filters, no down- or
    # up-sampling, one head with keys of 16 and values of 128, K = 10,
    # dropout 0.5.
    "cifar10": {
        "image_shape": (32, 32, 3),
        "num_levels": 256,
        "num_filters": 256,
        "num_blocks": 12,
        "num_resnet": 4,
        "num_heads": 1,
        "key_dim": 16,
        "value_dim": 128,
        "num_logistic_mix": 10,
        "dropout": 0.5,
    },
    # ImageNet 32x32 (3.80 bits/dim): the CIFAR-10 network with 32 mixture
    # components (SPEC.md, section 8); no dropout, as 1.28M images do not
    # overfit it (SPEC gives dropout 0.5 for CIFAR-10 only).
    "imagenet32": {
        "image_shape": (32, 32, 3),
        "num_levels": 256,
        "num_filters": 256,
        "num_blocks": 12,
        "num_resnet": 4,
        "num_heads": 1,
        "key_dim": 16,
        "value_dim": 128,
        "num_logistic_mix": 32,
        "dropout": 0.0,
    },
    # The VQ-VAE-2 top prior (Razavi et al., 2019, appendix, the ImageNet
    # 256 x 256 model): a PixelSNAIL over the 32 x 32 map of codes from a
    # codebook of 512, with a softmax over them. The paper gives 512 hidden
    # units, 20 layers of which 4 are attention layers (here 4 blocks of 5
    # gated resnets, each block ending with an attention), 8 attention
    # heads, dropout 0.1. Where it is silent or this network differs:
    # - its residual blocks are 2048 wide inside; a gated resnet here is as
    #   wide as the features (512);
    # - key and value sizes: 32 per head, so that the 8 heads together read
    #   half the features, as the public PyTorch ports of the prior do;
    # - its output stack has 20 layers; here the PixelRNN paper's (one
    #   hidden 1 x 1 layer of 512);
    # - the codes are unordered: a learned embedding of 64 per code (the
    #   paper does not say how the prior sees them), as the Gated PixelCNN's
    #   `vqvae_prior`.
    "vqvae2_top": {
        "image_shape": (32, 32, 1),
        "num_levels": 512,
        "num_filters": 512,
        "num_blocks": 4,
        "num_resnet": 5,
        "num_heads": 8,
        "key_dim": 32,
        "value_dim": 32,
        "dropout": 0.1,
        "head": "categorical",
        "input_encoding": "embedding",
        "embedding_dim": 64,
        "output_filters": 512,
    },
    # The embedded 8x8 digits (17 grey levels), and tests: two blocks of one
    # gated resnet, so that attention is what reaches the pixels above and
    # to the right.
    "tiny": {
        "image_shape": (8, 8, 1),
        "num_levels": 17,
        "num_filters": 32,
        "num_blocks": 2,
        "num_resnet": 1,
        "num_heads": 1,
        "key_dim": 8,
        "value_dim": 16,
        "num_logistic_mix": 5,
        "dropout": 0.5,
    },
}
