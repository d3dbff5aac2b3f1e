"""Colormaps and overlays of an attribution map on the image the model saw."""

from typing import Literal

import numpy as np
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "COLORMAPS",
    "DIVERGING",
    "Display",
    "amplify",
    "colorize",
    "map_peak",
    "pixels_to_image",
    "render_map",
    "render_overlay",
    "scale_map",
]

# Anchor colours (evenly spaced) of perceptual colormaps, interpolated to 256 entries.
_ANCHORS: dict[str, list[tuple[int, int, int]]] = {
    "inferno": [
        (0, 0, 4),
        (40, 11, 84),
        (101, 21, 110),
        (159, 42, 99),
        (212, 72, 66),
        (245, 125, 21),
        (250, 193, 39),
        (252, 255, 164),
    ],
    "viridis": [
        (68, 1, 84),
        (70, 50, 126),
        (54, 92, 141),
        (39, 127, 142),
        (31, 161, 135),
        (74, 193, 109),
        (160, 218, 57),
        (253, 231, 37),
    ],
    "gray": [(0, 0, 0), (255, 255, 255)],
    # Diverging: blue (negative) - white (zero) - red (positive).
    "coolwarm": [
        (59, 76, 192),
        (124, 159, 249),
        (192, 212, 245),
        (242, 242, 242),
        (242, 203, 183),
        (238, 132, 104),
        (180, 4, 38),
    ],
}
DIVERGING = frozenset({"coolwarm"})
COLORMAPS = tuple(_ANCHORS)


def _lookup_table(name: str) -> np.ndarray:
    anchors = np.asarray(_ANCHORS[name], dtype=np.float64)
    positions = np.linspace(0.0, 1.0, len(anchors))
    steps = np.linspace(0.0, 1.0, 256)
    table = np.stack([np.interp(steps, positions, anchors[:, c]) for c in range(3)], axis=1)
    return np.clip(table + 0.5, 0, 255).astype(np.uint8)


_TABLES = {name: _lookup_table(name) for name in _ANCHORS}


def map_peak(attribution: np.ndarray, percentile: float = 99.0) -> float:
    """The value shown at full colour: the `percentile` of |value|, so a few outlier pixels
    (common in gradient maps) saturate instead of leaving the rest dark (Captum clips 2 %)."""
    magnitude = np.abs(np.nan_to_num(attribution.astype(np.float64)))
    return float(np.percentile(magnitude, percentile)) or float(magnitude.max())


def scale_map(
    attribution: np.ndarray, signed: bool, percentile: float = 99.0, limit: float | None = None
) -> np.ndarray:
    """To [0, 1]. Signed maps: zero at 0.5, ±peak at the ends. Other maps: per map, from their
    minimum to the peak; with a shared `limit` (several maps on one scale), from 0 to it."""
    finite = np.nan_to_num(attribution.astype(np.float64))
    peak = limit if limit is not None else map_peak(finite, percentile)
    if signed:
        return np.clip(0.5 + 0.5 * finite / (peak or 1.0), 0.0, 1.0)
    low = 0.0 if limit is not None else min(float(finite.min()), peak)
    return np.clip((finite - low) / ((peak - low) or 1.0), 0.0, 1.0)


def colorize(scaled: np.ndarray, colormap: str) -> np.ndarray:
    """(H, W) in [0, 1] -> (H, W, 3) uint8."""
    if colormap not in _TABLES:
        raise ValueError(f"unknown colormap {colormap!r}; known: {', '.join(COLORMAPS)}")
    indices = np.clip((scaled * 255.0 + 0.5).astype(int), 0, 255)
    table: np.ndarray = _TABLES[colormap][indices]
    return table


def pixels_to_image(pixels: np.ndarray) -> Image.Image:
    """(3, H, W) floats in [0, 1] -> an 8-bit RGB image (rounded, clipped)."""
    array = np.transpose(np.clip(pixels, 0.0, 1.0), (1, 2, 0)) * 255.0 + 0.5
    return Image.fromarray(array.astype(np.uint8), mode="RGB")


def amplify(perturbation: np.ndarray) -> tuple[np.ndarray, float]:
    """A (3, H, W) perturbation made visible: 0.5 + factor · δ fills [0, 1]; returns the pixels
    and the factor (shown beside the picture, so nobody mistakes it for the real size)."""
    peak = float(np.abs(perturbation).max())
    factor = 0.5 / peak if peak > 0 else 1.0
    return np.clip(0.5 + factor * perturbation, 0.0, 1.0), factor


class Display(BaseModel):
    """How a map is drawn; the same settings apply to every pane of a comparison."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    opacity: float = Field(0.55, ge=0.0, le=1.0, description="Weight of the heat map")
    colormap: Literal["auto", "inferno", "viridis", "gray", "coolwarm"] = Field(
        "auto", description="auto: coolwarm for signed values, inferno otherwise"
    )
    mode: Literal["overlay", "heatmap", "original"] = "overlay"
    values: Literal["signed", "absolute"] = Field(
        "signed", description="absolute: |value|, so evidence against the class shows as strong"
    )
    limit: float | None = Field(
        None, gt=0.0, description="Value at full colour (shared normalisation); none = per map"
    )


def render_map(
    pixels: np.ndarray, attribution: np.ndarray, signed: bool, display: Display
) -> Image.Image:
    """Draw a (H, W) map over (3, H, W) pixels in [0, 1] as `display` says; an RGB image."""
    if display.mode == "original":
        return pixels_to_image(pixels)
    diverging = signed and display.values == "signed"
    values = attribution if diverging else np.abs(attribution)
    colormap = None if display.colormap == "auto" else display.colormap
    opacity = 1.0 if display.mode == "heatmap" else display.opacity
    return render_overlay(pixels, values, diverging, colormap, opacity, display.limit)


def render_overlay(
    pixels: np.ndarray,
    attribution: np.ndarray,
    signed: bool = False,
    colormap: str | None = None,
    opacity: float = 0.55,
    limit: float | None = None,
) -> Image.Image:
    """Blend a (H, W) map over (3, H, W) pixels in [0, 1]; returns an RGB image of the same size."""
    if pixels.shape[1:] != attribution.shape:
        raise ValueError(f"map {attribution.shape} does not match image {pixels.shape[1:]}")
    if not 0.0 <= opacity <= 1.0:
        raise ValueError("opacity must be between 0 and 1")
    colormap = colormap or ("coolwarm" if signed else "inferno")
    heat = colorize(scale_map(attribution, signed, limit=limit), colormap).astype(np.float64)
    base = np.transpose(np.clip(pixels, 0.0, 1.0), (1, 2, 0)) * 255.0
    blended = (1.0 - opacity) * base + opacity * heat
    return Image.fromarray(np.clip(blended + 0.5, 0, 255).astype(np.uint8), mode="RGB")
