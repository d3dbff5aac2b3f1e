"""Decode and validate images, the model's preprocessing and its inverse, overlays."""

from app.imaging.decode import ALLOWED_FORMATS, decode_image, read_image
from app.imaging.overlay import (
    COLORMAPS,
    Display,
    amplify,
    map_peak,
    pixels_to_image,
    render_map,
    render_overlay,
)
from app.imaging.preprocessing import Preprocessing
from app.imaging.samples import SAMPLES, sample_image

__all__ = [
    "ALLOWED_FORMATS",
    "COLORMAPS",
    "SAMPLES",
    "Display",
    "Preprocessing",
    "amplify",
    "decode_image",
    "map_peak",
    "pixels_to_image",
    "read_image",
    "render_map",
    "render_overlay",
    "sample_image",
]
