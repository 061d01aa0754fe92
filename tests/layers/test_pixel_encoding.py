"""PixelEncoding: input values scaled, one-hot or embedded; config and saving."""

import numpy as np
import pytest
import tensorflow as tf

from pixel_keras.layers.pixel_encoding import PixelEncoding
from tests import helpers


def test_pixel_encoding_values():
    values = tf.constant([[0.0, 3.0], [2.0, 1.0]])
    scaled = PixelEncoding(4, "scaled")(values)
    np.testing.assert_allclose(scaled, values * (2.0 / 3.0) - 1.0)
    one_hot = PixelEncoding(4, "one_hot")(values).numpy()
    np.testing.assert_array_equal(one_hot[0], [1, 0, 0, 0, 0, 0, 0, 1])
    layer = PixelEncoding(4, "embedding", embedding_dim=3)
    embedded = layer(values).numpy()
    table = layer.embeddings.numpy()
    # Channel c of value v reads row v of table c.
    np.testing.assert_allclose(embedded[1], np.concatenate([table[0, 2], table[1, 1]]))
    restored = PixelEncoding.from_config(layer.get_config())
    assert restored.get_config() == layer.get_config()


@pytest.mark.parametrize(
    "encoding, features, num_weights",
    [("scaled", 3, 0), ("one_hot", 3 * 5, 0), ("embedding", 3 * 2, 1)],
)
def test_config_and_keras_file_round_trip(encoding, features, num_weights, tmp_path):
    # Images of 3 channels with values in [0, 5).
    images = np.random.default_rng(0).integers(0, 5, (2, 4, 3, 3)).astype("float32")
    helpers.check_layer(
        PixelEncoding,
        dict(num_levels=5, encoding=encoding, embedding_dim=2),
        images,
        expected_output_shape=(2, 4, 3, features),
        expected_num_weights=num_weights,
        expected_config={"num_levels": 5, "encoding": encoding, "embedding_dim": 2},
        tmp_path=tmp_path,
    )
