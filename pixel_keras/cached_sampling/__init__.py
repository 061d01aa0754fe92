"""Cached sampling: each step computes only what the new pixel changes.

The naive sampler (`pixel_keras.sampling`) runs the whole network once per
pixel (or sub-pixel). Because every layer is causal, most of that work
repeats: a layer's output at a position reads only earlier positions, so once
computed it never changes. The cached samplers here keep, for every layer,
the few rows (or values) that later positions still read, and at each step
compute every layer at the one position the new pixel makes computable
(Ramachandran et al., 2017, "Fast Generation for Convolutional
Autoregressive Models"). Recurrent layers carry their state instead.

Each module builds, for one model family, a traced loop with the signature of
the naive loop of that family, consuming the same noise in the same order,
so that both samplers draw the same images from the same seeds (see
`build_loop`).
"""


def build_loop(model):
    """The traced cached sampling loop of `model`.

    The loop has the signature of the model's naive loop in
    `pixel_keras.sampling`: `loop(images, known, conditioning, *noise,
    temperature)` to images of `model.sample_dtype`, where `conditioning` is
    the model's class labels, condition values, or None.

    Raises:
        ValueError: if the model's family has no cached sampler.
    """
    # Imported here: the models import the samplers, not the other way round.
    from pixel_keras import models

    if isinstance(model, models.PixelCNNPlusPlus):
        from pixel_keras.cached_sampling import pixel_cnn_pp

        return pixel_cnn_pp.build_loop(model)
    if isinstance(model, models.PixelCNN):
        from pixel_keras.cached_sampling import pixel_cnn

        return pixel_cnn.build_loop(model)
    if isinstance(model, models.PixelRNN) and model.kind == "row_lstm":
        from pixel_keras.cached_sampling import row_lstm

        return row_lstm.build_loop(model)
    if isinstance(model, models.PixelRNN) and model.kind == "diagonal_bilstm":
        from pixel_keras.cached_sampling import diagonal_bilstm

        return diagonal_bilstm.build_loop(model)
    raise ValueError(
        f"No cached sampler for {type(model).__name__}; use method='naive'."
    )
