"""The figures `main.py` writes: the per-pixel NLL of `eval` and the
completions of `complete`, as matplotlib figures a reader can read (titled
panels, colour bars labelled in bits).

The figures are `matplotlib.figure.Figure` objects drawn by the Agg canvas,
never through `pyplot`: nothing global is touched, no display is needed, and a
figure is freed with its last reference.
"""

import io

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

# A perceptually ordered dark-to-bright map: a bright pixel costs many bits.
NLL_COLOUR_MAP = "magma"
NLL_LABEL = "NLL per pixel (bits, summed over channels)"
# Unknown pixels of a completion's input: filled grey, then hatched, so they
# cannot be taken for grey pixel values.
_UNKNOWN_GREY = 0.72
_HATCH = "////"
_HATCH_COLOUR = (0.25, 0.25, 0.25)


def _display(images, num_levels):
    """Integer `(N, H, W, C)` images, C in {1, 3}, as float RGB in [0, 1]."""
    images = np.asarray(images, np.float64)
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(
            "Expected `images` of shape (N, H, W, C) with C in {1, 3}. "
            f"Received: shape={images.shape}"
        )
    rgb = np.repeat(images, 3, axis=-1) if images.shape[-1] == 1 else images
    return np.clip(rgb / (num_levels - 1), 0.0, 1.0)


def _show_image(axes, image, title=None):
    axes.imshow(image, interpolation="nearest", vmin=0.0, vmax=1.0)
    axes.set_xticks([])
    axes.set_yticks([])
    if title:
        axes.set_title(title, fontsize="medium")


def _show_nll(axes, bits, vmax, title):
    mappable = axes.imshow(
        bits, cmap=NLL_COLOUR_MAP, vmin=0.0, vmax=vmax, interpolation="nearest"
    )
    axes.set_xticks([])
    axes.set_yticks([])
    axes.set_title(title, fontsize="medium")
    return mappable


def nll_figure(images, pixel_bits, mean_bits, num_levels, num_test_images):
    """Test images beside their per-pixel NLL, and the test set's mean map.

    Args:
        images: integer `(N, H, W, C)` test images, C in {1, 3}; a few
            (each takes a row).
        pixel_bits: `(N, H, W)`, each image's NLL of each pixel in bits,
            summed over channels.
        mean_bits: `(H, W)`, the mean of `pixel_bits` over the test set.
        num_levels: values per channel, to show the images.
        num_test_images: the images `mean_bits` averages, for its title.

    Returns:
        A `Figure`: on the left a row per image (the image, its NLL map, one
        colour bar in bits shared by the rows, so a colour costs the same in
        each), on the right the mean map with its own colour bar in bits.

    Raises:
        ValueError: if the shapes do not agree.
    """
    shown = _display(images, num_levels)
    pixel_bits = np.asarray(pixel_bits, np.float64)
    mean_bits = np.asarray(mean_bits, np.float64)
    if pixel_bits.shape != shown.shape[:3] or mean_bits.shape != shown.shape[1:3]:
        raise ValueError(
            f"Expected `pixel_bits` of shape {shown.shape[:3]} and `mean_bits` of "
            f"shape {shown.shape[1:3]} for images of shape {np.shape(images)}. "
            f"Received: pixel_bits.shape={pixel_bits.shape}, "
            f"mean_bits.shape={mean_bits.shape}"
        )
    num = len(shown)
    height = 0.6 + 1.9 * max(num, 2)
    figure = Figure(figsize=(10.0, height), layout="constrained", dpi=100)
    FigureCanvasAgg(figure)
    examples, mean = figure.subfigures(1, 2, width_ratios=[1.25, 1.0])
    examples.suptitle("Test images and the bits the model spends on each pixel")
    axes = examples.subplots(num, 2, squeeze=False)
    vmax = max(float(pixel_bits.max(initial=0.0)), 1e-6)
    for index in range(num):
        _show_image(axes[index, 0], shown[index], f"Test image {index + 1}")
        mappable = _show_nll(
            axes[index, 1],
            pixel_bits[index],
            vmax,
            f"Its NLL: {pixel_bits[index].sum():.1f} bits in all",
        )
    examples.colorbar(mappable, ax=axes[:, 1], label=NLL_LABEL, shrink=0.9)

    mean.suptitle(f"Mean over the {num_test_images} test images")
    mean_axes = mean.subplots()
    mappable = _show_nll(
        mean_axes,
        mean_bits,
        max(float(mean_bits.max(initial=0.0)), 1e-6),
        f"Mean NLL per pixel: {mean_bits.sum():.1f} bits per image",
    )
    mean.colorbar(mappable, ax=mean_axes, label=NLL_LABEL, shrink=0.6)
    return figure


def _hatch_unknown(axes, known):
    """Hatches the unknown pixels of a `(H, W)` mask, a rectangle per run of
    unknown pixels in a row (their hatches line up across rows)."""
    for row, line in enumerate(np.asarray(known, bool)):
        # Edges of the runs of unknown pixels: where `~line` switches.
        edges = np.flatnonzero(np.diff(np.concatenate([[0], ~line, [0]]).astype(int)))
        for start, stop in zip(edges[::2], edges[1::2]):
            axes.add_patch(
                Rectangle(
                    (start - 0.5, row - 0.5),
                    stop - start,
                    1.0,
                    fill=False,
                    hatch=_HATCH,
                    edgecolor=_HATCH_COLOUR,
                    linewidth=0.0,
                )
            )


def completion_figure(originals, known, completions, num_levels, description=""):
    """Originals, the masked inputs and the completions, a titled row each.

    Args:
        originals: integer `(N, H, W, C)` images, C in {1, 3}.
        known: bool `(N, H, W)`, True where a pixel was given to the model.
        completions: integer `(N, H, W, C)`, the model's completions.
        num_levels: values per channel, to show the images.
        description: how the completions were drawn (e.g. the seed), added
            to their row's title.

    Returns:
        A `Figure` of three rows (subfigures titled "Originals", "Given to
        the model ..." and "Completions ..."), an image per column; the
        unknown pixels of the given images are grey and hatched.

    Raises:
        ValueError: if the shapes do not agree.
    """
    originals_shown = _display(originals, num_levels)
    completions_shown = _display(completions, num_levels)
    known = np.asarray(known, bool)
    if completions_shown.shape != originals_shown.shape or (
        known.shape != originals_shown.shape[:3]
    ):
        raise ValueError(
            f"Expected `completions` of shape {np.shape(originals)} and `known` of "
            f"shape {np.shape(originals)[:3]}. Received: completions.shape="
            f"{np.shape(completions)}, known.shape={known.shape}"
        )
    given = np.where(known[..., None], originals_shown, _UNKNOWN_GREY)
    num = len(originals_shown)
    panel = min(1.6, 15.0 / num)  # Inches; wide grids shrink to 15 inches.
    figure = Figure(
        figsize=(max(panel * num + 0.4, 4.5), 3 * panel + 1.2),
        layout="constrained",
        dpi=100,
    )
    FigureCanvasAgg(figure)
    rows = figure.subfigures(3, 1)
    suffix = f" ({description})" if description else ""
    titles = (
        "Originals",
        "Given to the model (unknown pixels grey and hatched)",
        f"Completions{suffix}",
    )
    for row, title, shown in zip(rows, titles, (originals_shown, given, completions_shown)):
        row.suptitle(title, fontsize="medium")
        axes = row.subplots(1, num, squeeze=False)[0]
        for index, image in enumerate(shown):
            _show_image(axes[index], image)
            if shown is given:
                _hatch_unknown(axes[index], known[index])
    return figure


def png_bytes(figure, dpi=100):
    """The figure as PNG bytes (Agg)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()
