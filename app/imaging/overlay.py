"""Colormaps, overlays and legends of an attribution map on the image the model saw.

One colour meaning across every pane: red is evidence for the class (or, for unsigned maps,
importance), blue is evidence against it, and zero is transparent. Signed maps use the diverging
`coolwarm`, unsigned ones `reds` (the same red ramp), and the colour's opacity grows with |value|
over a desaturated photo, so the photo stays readable where the map says nothing.
"""

from typing import Literal

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "COLORMAPS",
    "DIVERGING",
    "Display",
    "amplify",
    "colorize",
    "colormap_anchors",
    "desaturate",
    "legend_labels",
    "map_peak",
    "pixels_to_image",
    "render_layer",
    "render_legend",
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
    # Sequential: coolwarm's red half, so red means the same in signed and unsigned maps.
    "reds": [(242, 242, 242), (242, 203, 183), (238, 132, 104), (180, 4, 38)],
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

    opacity: float = Field(
        0.8, ge=0.0, le=1.0, description="Weight of the colour where the map is at its peak"
    )
    colormap: Literal["auto", "reds", "inferno", "viridis", "gray", "coolwarm"] = Field(
        "auto", description="auto: coolwarm (blue-red) for signed values, reds otherwise"
    )
    mode: Literal["overlay", "heatmap", "layer", "original"] = Field(
        "overlay",
        description="overlay: colour over the desaturated photo; heatmap: the colours alone; "
        "layer: the colours with an alpha channel (|value|), to stack over the photo; "
        "original: the photo",
    )
    values: Literal["signed", "absolute"] = Field(
        "signed", description="absolute: |value|, so evidence against the class shows as strong"
    )
    limit: float | None = Field(
        None, gt=0.0, description="Value at full colour (shared normalisation); none = per map"
    )
    legend: bool = Field(False, description="Add a colour bar with the scale under the picture")


def render_map(
    pixels: np.ndarray, attribution: np.ndarray, signed: bool, display: Display
) -> Image.Image:
    """Draw a (H, W) map over (3, H, W) pixels in [0, 1] as `display` says: an RGB image (RGBA
    for `layer`), with its legend under it when `display.legend`."""
    if display.mode == "original":
        return pixels_to_image(pixels)
    diverging = signed and display.values == "signed"
    values = attribution if diverging else np.abs(attribution)
    colormap = None if display.colormap == "auto" else display.colormap
    if display.mode == "layer":
        picture = render_layer(values, diverging, colormap, display.limit)
    else:
        opacity = 1.0 if display.mode == "heatmap" else display.opacity
        by_magnitude = display.mode == "overlay"
        picture = render_overlay(
            pixels, values, diverging, colormap, opacity, display.limit, by_magnitude
        )
    if not display.legend:
        return picture
    peak = display.limit or map_peak(values)
    legend = render_legend(diverging, colormap, peak, picture.width)
    combined = Image.new(picture.mode, (picture.width, picture.height + legend.height), "white")
    combined.paste(picture, (0, 0))
    combined.paste(legend.convert(picture.mode), (0, picture.height))
    return combined


def _default_colormap(signed: bool) -> str:
    return "coolwarm" if signed else "reds"


def _magnitude(scaled: np.ndarray, signed: bool) -> np.ndarray:
    """How far each scaled value is from 'nothing': |v| for signed maps (zero at 0.5)."""
    return np.abs(scaled - 0.5) * 2.0 if signed else scaled


def render_layer(
    attribution: np.ndarray,
    signed: bool = False,
    colormap: str | None = None,
    limit: float | None = None,
) -> Image.Image:
    """The map's colours as an RGBA image whose alpha is the value's magnitude (zero is
    transparent): stacked over the photo with CSS opacity o, it blends exactly as `overlay`."""
    scaled = scale_map(attribution, signed, limit=limit)
    heat = colorize(scaled, colormap or _default_colormap(signed))
    alpha = np.clip(_magnitude(scaled, signed) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return Image.fromarray(np.dstack([heat, alpha]), mode="RGBA")


def desaturate(pixels: np.ndarray, keep: float = 0.25) -> np.ndarray:
    """(3, H, W) in [0, 1] -> the same, with only `keep` of the colour left (the rest grey)."""
    grey = np.tensordot(np.array([0.299, 0.587, 0.114]), pixels, axes=1)[None]
    out: np.ndarray = keep * pixels + (1.0 - keep) * grey
    return out


def colormap_anchors() -> dict[str, list[str]]:
    """Each colormap's anchor colours as CSS hex, evenly spaced: the page's legends."""
    return {
        name: [f"#{r:02x}{g:02x}{b:02x}" for r, g, b in anchors]
        for name, anchors in _ANCHORS.items()
    }


def legend_labels(signed: bool, peak: float) -> tuple[str, str, str]:
    """(low end, middle, high end) of a legend, in words and numbers."""
    value = f"{peak:.3g}"
    if signed:
        return f"against −{value}", "0", f"+{value} for"
    return "0", "", f"{value} most important"


def drawn_legend_labels(signed: bool, peak: float) -> tuple[str, str, str]:
    """legend_labels as the PNG's colour bar draws them: Pillow's built-in font has no U+2212
    MINUS SIGN (it drew a box), so a hyphen-minus instead."""
    low, middle, high = legend_labels(signed, peak)
    return low.replace("−", "-"), middle, high


def render_legend(signed: bool, colormap: str | None, peak: float, width: int) -> Image.Image:
    """A colour bar `width` pixels wide with its scale: what the PNG and the report carry."""
    table = _TABLES[colormap or _default_colormap(signed)]
    height, bar = 30, 10
    legend = Image.new("RGB", (width, height), "white")
    ramp = table[np.linspace(0, 255, width).round().astype(int)]
    legend.paste(Image.fromarray(np.repeat(ramp[None], bar, axis=0), mode="RGB"), (0, 2))
    draw = ImageDraw.Draw(legend)
    font = ImageFont.load_default(size=max(9, min(13, width // 20)))
    low, middle, high = drawn_legend_labels(signed, peak)
    draw.text((1, bar + 4), low, fill="black", font=font)
    if middle:
        draw.text((width // 2, bar + 4), middle, fill="black", font=font, anchor="ma")
    draw.text((width - 1, bar + 4), high, fill="black", font=font, anchor="ra")
    return legend


def render_overlay(
    pixels: np.ndarray,
    attribution: np.ndarray,
    signed: bool = False,
    colormap: str | None = None,
    opacity: float = 0.55,
    limit: float | None = None,
    by_magnitude: bool = False,
) -> Image.Image:
    """Blend a (H, W) map over (3, H, W) pixels in [0, 1]; returns an RGB image of the same size.
    `by_magnitude`: the colour's weight is `opacity` × |value| over the desaturated photo (the
    dashboard's overlay); else `opacity` everywhere over the photo as it is."""
    if pixels.shape[1:] != attribution.shape:
        raise ValueError(f"map {attribution.shape} does not match image {pixels.shape[1:]}")
    if not 0.0 <= opacity <= 1.0:
        raise ValueError("opacity must be between 0 and 1")
    scaled = scale_map(attribution, signed, limit=limit)
    heat = colorize(scaled, colormap or _default_colormap(signed)).astype(np.float64)
    photo = np.clip(pixels, 0.0, 1.0)
    weight: np.ndarray | float = opacity
    if by_magnitude:
        photo = desaturate(photo)
        weight = opacity * _magnitude(scaled, signed)[..., None]
    base = np.transpose(photo, (1, 2, 0)) * 255.0
    blended = (1.0 - weight) * base + weight * heat
    return Image.fromarray(np.clip(blended + 0.5, 0, 255).astype(np.uint8), mode="RGB")
