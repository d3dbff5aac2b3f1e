"""Shapes test images as gallery samples, with their ground truth.

`shapes-N` names image N of the lab's test split (seed 0, 64 px, random textures: the images the
lab scores its models on), so a sample is regenerated from its name alone — after a restart, from
a bookmark — and its mask is exact. The Explain page offers them when the model is a Shapes
classifier, draws the mask's outline over each map and scores each map against it with the
lab's own metrics (app/shapes/ground_truth.py: pointing game, mass inside).
"""

import re

import numpy as np
from PIL import Image

from app.errors import BadImage
from app.shapes.base import SIZE, TEST_OFFSET
from app.shapes.dataset import SHAPES, ShapeSample, draw_sample
from app.shapes.ground_truth import mass_inside, pointing_hit
from app.zoo import LoadedModel

__all__ = [
    "GALLERY_SIZE",
    "PREFIX",
    "gallery_names",
    "is_shapes_model",
    "is_shapes_sample",
    "outline_path",
    "sample_scores",
    "shapes_image",
    "shapes_sample",
    "shows_sample",
    "verdict_line",
]

PREFIX = "shapes-"
GALLERY_SIZE = 10  # the first ten test images: one of each class (label = index % 10)
_TEST_IMAGES = 5000  # the lab's largest test split (SplitParams.test_images)
_NAME = re.compile(rf"{PREFIX}(\d{{1,4}})")


def is_shapes_model(model: LoadedModel) -> bool:
    """A classifier of the Shapes lab's ten classes at its image size (shapes/teacher, a student,
    their compressed variants, a user's model with those labels)."""
    return list(model.labels) == list(SHAPES) and model.input_size == SIZE


def is_shapes_sample(name: str) -> bool:
    return name.startswith(PREFIX)


def shapes_sample(name: str) -> ShapeSample:
    """The test image `name` names (`shapes-0` … `shapes-4999`), with its label and mask."""
    match = _NAME.fullmatch(name)
    if match is None or int(match.group(1)) >= _TEST_IMAGES:
        raise BadImage(
            f"unknown Shapes sample {name!r}; they are {PREFIX}0 … {PREFIX}{_TEST_IMAGES - 1}"
        )
    return draw_sample(TEST_OFFSET + int(match.group(1)), SIZE, 0, "random")


def shapes_image(name: str) -> Image.Image:
    return Image.fromarray(shapes_sample(name).image)


def gallery_names() -> list[str]:
    return [f"{PREFIX}{index}" for index in range(GALLERY_SIZE)]


def outline_path(mask: np.ndarray) -> str:
    """SVG path data (viewBox 0 0 W H, one unit per pixel) tracing the edges between the mask's
    pixels and the others: the exact outline of the shape, holes (the ring) included. Runs of
    edges along a row or column are joined into one segment."""
    height, width = mask.shape
    padded = np.pad(mask, 1)
    segments: list[str] = []
    # Horizontal edges at y (between rows y-1 and y): where the pixel above differs from below.
    horizontal = padded[:-1, 1:-1] != padded[1:, 1:-1]  # (H+1, W)
    for y in range(height + 1):
        segments += [f"M{start} {y}h{length}" for start, length in _runs(horizontal[y])]
    vertical = padded[1:-1, :-1] != padded[1:-1, 1:]  # (H, W+1)
    for x in range(width + 1):
        segments += [f"M{x} {start}v{length}" for start, length in _runs(vertical[:, x])]
    return "".join(segments)


def _runs(line: np.ndarray) -> list[tuple[int, int]]:
    """(start, length) of each run of True in a 1-D boolean array."""
    edges = np.diff(np.concatenate([[0], line.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return [(int(s), int(e - s)) for s, e in zip(starts, ends, strict=True)]


def shows_sample(pixels: np.ndarray, drawn: ShapeSample) -> bool:
    """Whether (3, H, W) pixels in [0, 1] (an explanation's input) are this sample's image; True
    for another size (a model that resizes it: nothing to compare pixel by pixel)."""
    if pixels.shape != (3, *drawn.mask.shape):
        return True
    return bool(np.abs(pixels.transpose(1, 2, 0) * 255 - drawn.image).max() <= 1.0)


def sample_scores(attribution: np.ndarray, mask: np.ndarray) -> dict[str, float | bool]:
    """The lab's two ground-truth scores of one map: the pointing game's hit and the share of
    positive mass on the shape, with the area share (what a uniform map would score). A map of
    another size than the mask (a model that is not 64 px) is scored against the mask resized to
    it (nearest neighbour)."""
    if attribution.shape != mask.shape:
        resized = Image.fromarray(mask.astype(np.uint8) * 255).resize(
            (attribution.shape[1], attribution.shape[0]), Image.Resampling.NEAREST
        )
        mask = np.asarray(resized) > 127
    return {
        "pointing_hit": pointing_hit(attribution, mask),
        "mass_inside": mass_inside(attribution, mask),
        "area_share": float(mask.mean()),
    }


def verdict_line(name: str, pixels: np.ndarray, attribution: np.ndarray) -> str | None:
    """The report's sentence for a map of the Shapes test image `name` (None for another image):
    its pointing-game hit and mass inside the shape, against a uniform map's."""
    if not is_shapes_sample(name):
        return None
    drawn = shapes_sample(name)
    if not shows_sample(pixels, drawn):
        return None
    scores = sample_scores(attribution, drawn.mask)
    where = "on" if scores["pointing_hit"] else "off"
    return (
        f"Ground truth (the {SHAPES[drawn.label]}'s exact mask): pointing game "
        f"{'hit' if scores['pointing_hit'] else 'miss'} (the map's peak lies {where} the shape); "
        f"{float(scores['mass_inside']):.0%} of its positive mass inside the shape (a map that "
        f"knows nothing: {float(scores['area_share']):.0%})."
    )
