"""Sampling: seeds and noise, the checks of its arguments, the naive and
sub-pixel loops, the entry points, and any model as a TFP distribution over
whole images.

The loops know no model: a model hands them its layers through its
`build_cached_loop()` (each family keeps its cached sampler beside it, in
`pixel_keras/models/<family>/`) and the protocol in `sampler.py`.
"""

from pixel_keras.sampling.arguments import known_mask_assertions
from pixel_keras.sampling.arguments import temperature_assertions
from pixel_keras.sampling.autoregressive_image import AutoregressiveImage
from pixel_keras.sampling.noise import noise_per_image
from pixel_keras.sampling.noise import per_image_seeds
from pixel_keras.sampling.sampler import METHODS
from pixel_keras.sampling.sampler import check_method
from pixel_keras.sampling.sampler import complete
from pixel_keras.sampling.sampler import draw
from pixel_keras.sampling.sampler import one_trace_per_loop
from pixel_keras.sampling.sampler import sample

__all__ = [
    "AutoregressiveImage",
    "METHODS",
    "check_method",
    "complete",
    "draw",
    "known_mask_assertions",
    "noise_per_image",
    "one_trace_per_loop",
    "per_image_seeds",
    "sample",
    "temperature_assertions",
]
