"""The Shapes dataset: one coloured shape on a textured background per image, with its label and
the exact pixel mask of the shape. Generated, seeded and deterministic: sample `i` of a dataset
depends only on (seed, i), so nothing is downloaded and any size or count is free.

Cue conflict (Geirhos et al., ICLR 2019, "ImageNet-trained CNNs are biased towards texture"):
with `cue="aligned"` each class has its own background texture (class k on texture k), so a
model can learn either cue; `cue="swapped"` puts every shape on another class's texture, which
shows which cue the model follows.
"""

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from PIL import Image, ImageDraw
from torch.utils.data import Dataset

__all__ = [
    "SHAPES",
    "TEXTURES",
    "Cue",
    "ShapeSample",
    "ShapesDataset",
    "draw_sample",
    "export_folder",
    "preview_grid",
    "texture_image",
]

SHAPES = (
    "circle",
    "square",
    "triangle",
    "star",
    "cross",
    "ring",
    "diamond",
    "hexagon",
    "crescent",
    "arrow",
)
TEXTURES = (
    "checkerboard",
    "fine checkerboard",
    "horizontal stripes",
    "vertical stripes",
    "diagonal stripes",
    "horizontal gradient",
    "radial gradient",
    "noise",
    "dots",
    "waves",
)
Cue = Literal["random", "aligned", "swapped"]


@dataclass(frozen=True)
class ShapeSample:
    image: np.ndarray  # (H, W, 3) uint8
    mask: np.ndarray  # (H, W) bool: exactly the pixels painted with the shape's colour
    label: int  # index into SHAPES
    texture: int  # index into TEXTURES


Points = list[tuple[float, float]]


def _polygon(points: Points, angle: float, cx: float, cy: float, r: float) -> Points:
    cos, sin = math.cos(angle), math.sin(angle)
    return [(cx + r * (x * cos - y * sin), cy + r * (x * sin + y * cos)) for x, y in points]


def _regular(sides: int, offset: float = 0.0) -> list[tuple[float, float]]:
    return [
        (math.cos(offset + 2 * math.pi * k / sides), math.sin(offset + 2 * math.pi * k / sides))
        for k in range(sides)
    ]


def _star() -> list[tuple[float, float]]:
    points = []
    for k in range(10):
        radius = 1.0 if k % 2 == 0 else 0.45
        angle = -math.pi / 2 + math.pi * k / 5
        points.append((radius * math.cos(angle), radius * math.sin(angle)))
    return points


_CROSS: Points = [(-0.3, -1), (0.3, -1), (0.3, -0.3), (1, -0.3), (1, 0.3), (0.3, 0.3), (0.3, 1)]
_CROSS += [(-0.3, 1), (-0.3, 0.3), (-1, 0.3), (-1, -0.3), (-0.3, -0.3)]
_ARROW: Points = [(-1, -0.3), (0.2, -0.3), (0.2, -0.8), (1, 0), (0.2, 0.8), (0.2, 0.3), (-1, 0.3)]


def _draw_shape(
    draw: ImageDraw.ImageDraw, label: int, cx: float, cy: float, r: float, angle: float
) -> None:
    name = SHAPES[label]
    box = (cx - r, cy - r, cx + r, cy + r)
    if name == "circle":
        draw.ellipse(box, fill=255)
    elif name == "ring":
        draw.ellipse(box, fill=255)
        inner = 0.55 * r
        draw.ellipse((cx - inner, cy - inner, cx + inner, cy + inner), fill=0)
    elif name == "crescent":
        draw.ellipse(box, fill=255)
        dx, dy = 0.45 * r * math.cos(angle), 0.45 * r * math.sin(angle)
        draw.ellipse((cx - r + dx, cy - r + dy, cx + r + dx, cy + r + dy), fill=0)
    else:
        outlines: dict[str, Points] = {
            "square": _regular(4, math.pi / 4),
            "triangle": _regular(3, -math.pi / 2),
            "star": _star(),
            "cross": _CROSS,
            "diamond": [(0, -1), (0.6, 0), (0, 1), (-0.6, 0)],
            "hexagon": _regular(6),
            "arrow": _ARROW,
        }
        draw.polygon(_polygon(outlines[name], angle, cx, cy, r), fill=255)


def _texture(kind: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """(size, size, 3) float in [0, 255]: two random muted tones laid out by the texture."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float64) / size
    phase = rng.uniform(0, 1)
    name = TEXTURES[kind]
    if name == "checkerboard":
        pattern = ((np.floor(x * 4 + phase) + np.floor(y * 4 + phase)) % 2).astype(float)
    elif name == "fine checkerboard":
        pattern = ((np.floor(x * 12 + phase) + np.floor(y * 12 + phase)) % 2).astype(float)
    elif name == "horizontal stripes":
        pattern = (np.floor(y * 8 + phase) % 2).astype(float)
    elif name == "vertical stripes":
        pattern = (np.floor(x * 8 + phase) % 2).astype(float)
    elif name == "diagonal stripes":
        pattern = (np.floor((x + y) * 6 + phase) % 2).astype(float)
    elif name == "horizontal gradient":
        pattern = x
    elif name == "radial gradient":
        pattern = np.clip(np.hypot(x - 0.5, y - 0.5) * 2, 0, 1)
    elif name == "noise":
        coarse = rng.uniform(0, 1, size=(size // 4 + 1, size // 4 + 1))
        pattern = np.kron(coarse, np.ones((4, 4)))[:size, :size]
    elif name == "dots":
        pattern = ((np.hypot((x * 6 + phase) % 1 - 0.5, (y * 6 + phase) % 1 - 0.5)) < 0.25) * 1.0
    else:  # waves
        pattern = 0.5 + 0.5 * np.sin(2 * math.pi * (y * 5 + 0.15 * np.sin(2 * math.pi * x * 3)))
    low = rng.uniform(40, 140, size=3)
    high = rng.uniform(120, 220, size=3)
    texture: np.ndarray = low + pattern[..., None] * (high - low)
    return texture


def texture_image(kind: int, size: int = 96, seed: int = 0) -> np.ndarray:
    """Texture `kind` (an index into TEXTURES) alone, with no shape: (size, size, 3) uint8; its
    tones and phase drawn from `seed` (a concept set for TCAV, app/concepts/tcav.py)."""
    rng = np.random.default_rng([seed, len(SHAPES), kind])
    return np.round(_texture(kind, size, rng)).astype(np.uint8)


def draw_sample(index: int, size: int = 96, seed: int = 0, cue: Cue = "random") -> ShapeSample:
    """Sample `index`: label index % 10 (so any 10 consecutive samples hold every class)."""
    rng = np.random.default_rng([seed, index])
    label = index % len(SHAPES)
    if cue == "aligned":
        texture = label
    elif cue == "swapped":
        texture = int((label + 1 + rng.integers(len(TEXTURES) - 1)) % len(TEXTURES))
    else:
        texture = int(rng.integers(len(TEXTURES)))
    background = _texture(texture, size, rng)
    radius = size * rng.uniform(0.22, 0.36)
    cx, cy = (rng.uniform(radius + 1, size - radius - 1) for _ in range(2))
    canvas = Image.new("L", (size, size), 0)
    _draw_shape(ImageDraw.Draw(canvas), label, cx, cy, radius, rng.uniform(0, 2 * math.pi))
    mask = np.asarray(canvas) > 0
    hue = rng.uniform(0, 1)
    colour = 255 * np.array(_hsv_to_rgb(hue, rng.uniform(0.7, 1.0), rng.uniform(0.85, 1.0)))
    image = np.where(mask[..., None], colour, background)
    return ShapeSample(np.round(image).astype(np.uint8), mask, label, texture)


def _hsv_to_rgb(h: float, s: float, v: float) -> tuple[float, float, float]:
    import colorsys

    return colorsys.hsv_to_rgb(h, s, v)


class ShapesDataset(Dataset[tuple[torch.Tensor, int]]):
    """`count` samples starting at `offset` (use disjoint offsets for train / validation / test
    splits); item i is ((3, size, size) float32 pixels in [0, 1], label)."""

    def __init__(
        self, count: int, size: int = 96, seed: int = 0, cue: Cue = "random", offset: int = 0
    ) -> None:
        self.count, self.size, self.seed, self.cue, self.offset = count, size, seed, cue, offset

    def __len__(self) -> int:
        return self.count

    def sample(self, index: int) -> ShapeSample:
        if not 0 <= index < self.count:
            raise IndexError(index)
        return draw_sample(self.offset + index, self.size, self.seed, self.cue)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        drawn = self.sample(index)
        pixels = torch.from_numpy(drawn.image).permute(2, 0, 1).float() / 255.0
        return pixels, drawn.label

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """All samples at once: ((N, 3, S, S) pixels, (N,) labels)."""
        items = [self[i] for i in range(self.count)]
        return torch.stack([x for x, _ in items]), torch.tensor([y for _, y in items])


def export_folder(dataset: ShapesDataset, folder: Path) -> Path:
    """One sub-folder per class (`circle/00012.png`, the layout image-folder loaders read), the
    masks beside them (`circle/00012.mask.png`), and `dataset.json` with the settings."""
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(len(dataset)):
        drawn = dataset.sample(index)
        place = folder / SHAPES[drawn.label]
        place.mkdir(exist_ok=True)
        Image.fromarray(drawn.image).save(place / f"{index:05d}.png")
        Image.fromarray(drawn.mask.astype(np.uint8) * 255).save(place / f"{index:05d}.mask.png")
    settings = {
        "count": dataset.count,
        "size": dataset.size,
        "seed": dataset.seed,
        "cue": dataset.cue,
        "offset": dataset.offset,
        "classes": list(SHAPES),
        "textures": list(TEXTURES),
    }
    (folder / "dataset.json").write_text(json.dumps(settings, indent=2))
    return folder


def preview_grid(size: int, seed: int = 0) -> Image.Image:
    """Samples 0–19 (two of each class) in two rows, enlarged 2× (nearest neighbour)."""
    tiles = [draw_sample(index, size, seed).image for index in range(20)]
    rows = [np.concatenate(tiles[:10], axis=1), np.concatenate(tiles[10:], axis=1)]
    grid = Image.fromarray(np.concatenate(rows, axis=0))
    return grid.resize((grid.width * 2, grid.height * 2), Image.Resampling.NEAREST)
