"""Colormaps and overlays of an attribution map on the image the model saw."""

import numpy as np
from PIL import Image

__all__ = ["COLORMAPS", "DIVERGING", "colorize", "render_overlay", "scale_map"]

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


def scale_map(attribution: np.ndarray, signed: bool, percentile: float = 99.0) -> np.ndarray:
    """To [0, 1]: unsigned maps from their minimum to their `percentile`, signed maps around 0.5
    by the `percentile` of |value|. Values beyond it saturate, so a few outlier pixels (common in
    gradient maps) do not leave the rest of the map dark (Captum's visualiser clips 2 %)."""
    finite = np.nan_to_num(attribution.astype(np.float64))
    if signed:
        peak = float(np.percentile(np.abs(finite), percentile)) or float(np.abs(finite).max())
        return np.clip(0.5 + 0.5 * finite / (peak or 1.0), 0.0, 1.0)
    low = float(finite.min())
    span = float(np.percentile(finite, percentile)) - low or float(finite.max()) - low
    return np.clip((finite - low) / (span or 1.0), 0.0, 1.0)


def colorize(scaled: np.ndarray, colormap: str) -> np.ndarray:
    """(H, W) in [0, 1] -> (H, W, 3) uint8."""
    if colormap not in _TABLES:
        raise ValueError(f"unknown colormap {colormap!r}; known: {', '.join(COLORMAPS)}")
    indices = np.clip((scaled * 255.0 + 0.5).astype(int), 0, 255)
    table: np.ndarray = _TABLES[colormap][indices]
    return table


def render_overlay(
    pixels: np.ndarray,
    attribution: np.ndarray,
    signed: bool = False,
    colormap: str | None = None,
    opacity: float = 0.55,
) -> Image.Image:
    """Blend a (H, W) map over (3, H, W) pixels in [0, 1]; returns an RGB image of the same size."""
    if pixels.shape[1:] != attribution.shape:
        raise ValueError(f"map {attribution.shape} does not match image {pixels.shape[1:]}")
    if not 0.0 <= opacity <= 1.0:
        raise ValueError("opacity must be between 0 and 1")
    colormap = colormap or ("coolwarm" if signed else "inferno")
    heat = colorize(scale_map(attribution, signed), colormap).astype(np.float64)
    base = np.transpose(np.clip(pixels, 0.0, 1.0), (1, 2, 0)) * 255.0
    blended = (1.0 - opacity) * base + opacity * heat
    return Image.fromarray(np.clip(blended + 0.5, 0, 255).astype(np.uint8), mode="RGB")
