"""A pixel_keras prior over the code maps of a discrete-latent autoencoder.

The two-stage recipe of VQ-VAE (van den Oord et al., 2017): an autoencoder
whose bottleneck is a map of discrete codes, then an autoregressive prior
over those code maps. Here, on the embedded 8x8 digits:

1. a small VQ autoencoder maps each digit to a 4x4 map of codes from a
   codebook of `--num_codes` entries, and decodes a code map back to a
   17-level digit;
2. a `GatedPixelCNN`, the prior of the VQ-VAE paper, with a softmax over
   the codes (`num_levels=num_codes`, one-hot input) is fitted to the
   training digits' code maps; with `--class_conditional` it is conditioned
   on the digit's label (`num_classes=10`), as the paper's class-conditional
   prior;
3. `prior = model.as_distribution()` is a TFP distribution over code maps:
   it scores them (`prior.log_prob`) and draws new ones (`prior.sample`),
   which the decoder turns into new digits.

Run (from the repository root; about a minute on 2 CPU cores):

    python examples/discrete_latent_prior.py --output=latent_prior.png
    python examples/discrete_latent_prior.py --class_conditional \
        --output=latent_prior_by_class.png

The first PNG shows decoded samples of the prior (top rows) above test
digits and their reconstructions (bottom rows); the class-conditional one
shows one row of decoded samples per class, 0 to 9.

References:
    van den Oord, Vinyals, Kavukcuoglu. Neural Discrete Representation
    Learning. NeurIPS 2017. https://arxiv.org/abs/1711.00937
    van den Oord, Kalchbrenner, Vinyals, Espeholt, Graves, Kavukcuoglu.
    Conditional Image Generation with PixelCNN Decoders. NeurIPS 2016.
    https://arxiv.org/abs/1606.05328
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import app  # noqa: E402
from absl import flags  # noqa: E402
from keras import ops  # noqa: E402

from pixel_keras import data  # noqa: E402
from pixel_keras import images as images_lib  # noqa: E402
from pixel_keras.models import GatedPixelCNN  # noqa: E402

FLAGS = flags.FLAGS


def _define_flags():
    # Defined when run as a script only, so that importing `run` (as the
    # tests do) adds no global flags.
    flags.DEFINE_integer("num_codes", 32, "Entries of the codebook (levels of the prior).")
    flags.DEFINE_integer("autoencoder_epochs", 30, "Epochs of the autoencoder.")
    flags.DEFINE_integer("prior_epochs", 30, "Epochs of the prior.")
    flags.DEFINE_integer(
        "num_samples", 16, "Code maps to draw from the prior (per class with --class_conditional)."
    )
    flags.DEFINE_bool(
        "class_conditional", False, "Condition the prior on the digit's label."
    )
    flags.DEFINE_integer("seed", 0, "Seed of the weights and of the samples.")
    flags.DEFINE_string("output", None, "PNG to write (not overwritten).")


@keras.saving.register_keras_serializable(package="examples")
class VectorQuantizer(keras.layers.Layer):
    """Replaces each vector by its nearest codebook entry.

    Gradients pass straight through to the encoder; the codebook moves to
    the encoder's outputs and the encoder is held near its codes (the
    `commitment` term), as in VQ-VAE.

    Args:
        num_codes: int, codebook entries.
        commitment: float, weight of the encoder's commitment loss.
    """

    def __init__(self, num_codes, commitment=0.25, **kwargs):
        super().__init__(**kwargs)
        self.num_codes = num_codes
        self.commitment = commitment

    def build(self, input_shape):
        self.codebook = self.add_weight(
            name="codebook",
            shape=(self.num_codes, input_shape[-1]),
            initializer=keras.initializers.RandomUniform(-1.0, 1.0),
        )

    def codes(self, vectors):
        """Index of the nearest entry of every vector, int32 `(...)`."""
        distances = (
            ops.sum(vectors**2, axis=-1, keepdims=True)
            - 2.0 * ops.matmul(vectors, ops.transpose(self.codebook))
            + ops.sum(self.codebook**2, axis=-1)
        )
        return ops.cast(ops.argmin(distances, axis=-1), "int32")

    def lookup(self, codes):
        return ops.take(self.codebook, codes, axis=0)

    def call(self, vectors):
        quantized = self.lookup(self.codes(vectors))
        self.add_loss(
            ops.mean((ops.stop_gradient(vectors) - quantized) ** 2)
            + self.commitment * ops.mean((vectors - ops.stop_gradient(quantized)) ** 2)
        )
        return vectors + ops.stop_gradient(quantized - vectors)

    def get_config(self):
        config = super().get_config()
        config.update({"num_codes": self.num_codes, "commitment": self.commitment})
        return config


def build_autoencoder(image_shape, num_levels, num_codes, code_dim=8):
    """Encoder (8x8 -> 4x4 vectors), quantizer and decoder (to logits)."""
    height, width, channels = image_shape
    encoder = keras.Sequential(
        [
            keras.Input(image_shape),
            keras.layers.Rescaling(2.0 / (num_levels - 1), offset=-1.0),
            keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
            keras.layers.Conv2D(32, 4, strides=2, padding="same", activation="relu"),
            keras.layers.Conv2D(code_dim, 1),
        ],
        name="encoder",
    )
    quantizer = VectorQuantizer(num_codes, name="quantizer")
    decoder = keras.Sequential(
        [
            keras.Input((height // 2, width // 2, code_dim)),
            keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
            keras.layers.Conv2DTranspose(32, 4, strides=2, padding="same", activation="relu"),
            keras.layers.Conv2D(channels * num_levels, 3, padding="same"),
            keras.layers.Reshape((height, width, channels, num_levels)),
        ],
        name="decoder",
    )
    inputs = keras.Input(image_shape)
    outputs = decoder(quantizer(encoder(inputs)))
    autoencoder = keras.Model(inputs, outputs, name="vq_autoencoder")
    return autoencoder, encoder, quantizer, decoder


def code_maps(encoder, quantizer, images):
    """int32 `(N, H/2, W/2, 1)` code maps of uint8 images."""
    return ops.convert_to_numpy(quantizer.codes(encoder(images)))[..., None]


def decode(decoder, quantizer, codes):
    """The most likely digit of each code map, uint8 `(N, H, W, C)`."""
    logits = decoder(quantizer.lookup(codes[..., 0]))
    return ops.convert_to_numpy(ops.argmax(logits, axis=-1)).astype(np.uint8)


def run(
    num_codes=32,
    autoencoder_epochs=30,
    prior_epochs=30,
    num_samples=16,
    seed=0,
    verbose=1,
    class_conditional=False,
):
    """Trains the autoencoder and the prior; draws new digits.

    Args:
        class_conditional: condition the prior on the digit's label; then
            `num_samples` code maps are drawn for each of the 10 classes,
            class by class.

    Returns:
        A dict: the models, `samples` (decoded digits), `codes` (their code
        maps), `labels` (the class of each sample, or None), `test` digits
        and their `reconstructions`, the prior's test bits per code
        (`prior_bits_per_code`, against `log2(num_codes)` for the uniform
        prior) and the prior's training losses per epoch.
    """
    keras.utils.set_random_seed(seed)
    digits = data.load("digits")
    train, train_labels = data.images_and_labels(digits.train)
    test, test_labels = data.images_and_labels(digits.test)

    autoencoder, encoder, quantizer, decoder = build_autoencoder(
        digits.image_shape, digits.num_levels, num_codes
    )
    autoencoder.compile(
        optimizer=keras.optimizers.Adam(2e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    autoencoder.fit(
        train, train, epochs=autoencoder_epochs, batch_size=64, verbose=verbose
    )

    # The prior: a softmax over the codes at every position of the 4x4 map,
    # reading the codes one-hot (they have no order).
    train_codes = code_maps(encoder, quantizer, train)
    test_codes = code_maps(encoder, quantizer, test)
    num_classes = 10 if class_conditional else None
    prior_model = GatedPixelCNN.from_preset(
        "tiny",
        image_shape=train_codes.shape[1:],
        num_levels=num_codes,
        input_encoding="one_hot",
        num_classes=num_classes,
    )
    prior_model.compile(optimizer=keras.optimizers.Adam(2e-3))
    inputs = train_codes.astype(np.float32)
    if class_conditional:
        inputs = {"images": inputs, "condition": train_labels.astype(np.int32)}
    history = prior_model.fit(inputs, epochs=prior_epochs, batch_size=64, verbose=verbose)

    if class_conditional:
        # One row of `num_samples` draws per class.
        labels = np.repeat(np.arange(10, dtype=np.int32), num_samples)
        prior = prior_model.as_distribution(condition=labels)
        scored = prior_model.as_distribution(condition=test_labels.astype(np.int32))
        codes = prior.sample(seed=tf.constant([seed, 1], tf.int32)).numpy()
    else:
        labels = None
        prior = scored = prior_model.as_distribution()
        codes = prior.sample(num_samples, seed=tf.constant([seed, 1], tf.int32)).numpy()
    num_codes_per_map = int(np.prod(test_codes.shape[1:]))
    test_bits = -float(tf.reduce_mean(scored.log_prob(test_codes))) / (
        num_codes_per_map * np.log(2.0)
    )
    return {
        "autoencoder": autoencoder,
        "prior_model": prior_model,
        "prior": prior,
        "codes": codes,
        "labels": labels,
        "samples": decode(decoder, quantizer, codes),
        "test": test[:num_samples],
        "reconstructions": decode(decoder, quantizer, test_codes[:num_samples]),
        "prior_bits_per_code": test_bits,
        "prior_losses": history.history["loss"],
    }


def main(argv):
    del argv
    if FLAGS.output and os.path.exists(FLAGS.output):
        raise app.UsageError(f"{FLAGS.output!r} exists; nothing is overwritten.")
    results = run(
        FLAGS.num_codes,
        FLAGS.autoencoder_epochs,
        FLAGS.prior_epochs,
        FLAGS.num_samples,
        FLAGS.seed,
        class_conditional=FLAGS.class_conditional,
    )
    print(
        f"Prior: {results['prior_bits_per_code']:.3f} bits per code on the test "
        f"digits' code maps (uniform: {np.log2(FLAGS.num_codes):.3f})."
    )
    if not FLAGS.output:
        return
    if FLAGS.class_conditional:
        # One row per class: the samples come class by class.
        images_lib.write_png(
            FLAGS.output,
            images_lib.image_grid(results["samples"], 17, columns=FLAGS.num_samples),
        )
        print(f"Wrote {FLAGS.output}: one row of decoded prior samples per class, 0 to 9.")
        return
    rows = np.concatenate([results["samples"], results["test"], results["reconstructions"]])
    images_lib.write_png(
        FLAGS.output,
        images_lib.image_grid(rows, 17, columns=FLAGS.num_samples // 2),
    )
    print(
        f"Wrote {FLAGS.output}: decoded prior samples, then test digits and "
        "their reconstructions."
    )


if __name__ == "__main__":
    _define_flags()
    app.run(main)
