"""Where a completion's loops start: the first pixel, or row, that is unknown.

Every image of a batch runs the same loop, so the start is the first pixel
(or row) unknown in *any* image. Pixels before it keep their given values
and are never drawn: the naive loops start at that pixel, and the cached
loops compute the rows above it in one teacher-forced pass (no draws, each
layer a whole row at a time where the layer allows) before their pixel loop
starts at its row.
"""

import tensorflow as tf


def first_unknown_pixel(known):
    """Raster index of the first pixel unknown in any image (H * W if none).

    Args:
        known: bool `(batch, height, width)`.

    Returns:
        int32 scalar.
    """
    num_pixels = tf.shape(known)[1] * tf.shape(known)[2]
    any_unknown = tf.reduce_any(
        tf.reshape(tf.logical_not(known), [-1, num_pixels]), axis=0
    )
    return tf.where(
        tf.reduce_any(any_unknown),
        tf.argmax(tf.cast(any_unknown, tf.int32), output_type=tf.int32),
        num_pixels,
    )


def first_unknown_row(known):
    """The first row with a pixel unknown in any image (height if none).

    Args:
        known: bool `(batch, height, width)`.

    Returns:
        int32 scalar.
    """
    return first_unknown_pixel(known) // tf.shape(known)[2]
