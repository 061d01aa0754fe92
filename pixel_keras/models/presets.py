"""Every family's presets, by family name (each family keeps its own, as
plain data, beside the model: `models/<family>/presets.py`)."""

import copy

from pixel_keras.models.gated_pixel_cnn.presets import GATED_PIXEL_CNN_PRESETS
from pixel_keras.models.pixel_cnn.presets import PIXEL_CNN_PRESETS
from pixel_keras.models.pixel_cnn_pp.presets import PIXEL_CNN_PP_PRESETS
from pixel_keras.models.pixel_rnn.presets import PIXEL_RNN_PRESETS
from pixel_keras.models.pixel_snail.presets import PIXEL_SNAIL_PRESETS

# Model family -> its presets.
PRESETS = {
    "pixel_cnn_pp": PIXEL_CNN_PP_PRESETS,
    "pixel_cnn": PIXEL_CNN_PRESETS,
    "pixel_rnn": PIXEL_RNN_PRESETS,
    "gated_pixel_cnn": GATED_PIXEL_CNN_PRESETS,
    "pixel_snail": PIXEL_SNAIL_PRESETS,
}


def preset_config(family, name, **overrides):
    """Constructor arguments of a preset, with overrides applied.

    Args:
        family: a key of `PRESETS` (`"pixel_cnn_pp"`, `"pixel_cnn"`,
            `"pixel_rnn"`, `"gated_pixel_cnn"`, `"pixel_snail"`).
        name: a preset name of that family.
        **overrides: arguments that replace the preset's values.

    Returns:
        A new dict of constructor arguments.

    Raises:
        ValueError: if `name` is not a preset of `family`.
    """
    table = PRESETS[family]
    if name not in table:
        raise ValueError(
            f"Unknown {family} preset {name!r}. Expected one of {sorted(table)}."
        )
    config = copy.deepcopy(table[name])
    config.update(overrides)
    return config
