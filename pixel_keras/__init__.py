"""pixel_keras: autoregressive image models (PixelCNN++, PixelCNN, PixelRNN) for Keras 3."""

__version__ = "0.1.0"
