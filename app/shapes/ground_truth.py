"""Does a map point at the object? Scores against the Shapes masks, which are exact.

- Pointing game (Zhang et al., ECCV 2016): a hit when the map's maximum falls inside the mask
  (or within `tolerance` pixels of it, their 15 px at 224; 0 by default here).
- Mass inside: the share of the map's positive mass that lies on the object. A map that knows
  nothing (uniform) scores the object's area share, reported alongside as the baseline.
- Cue conflict: on images whose texture belongs to another class, how often the model names the
  shape, the texture's class, or neither.
"""

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from scipy import ndimage

from app.explain import explain
from app.params import Progress
from app.shapes.dataset import ShapesDataset
from app.zoo import LoadedModel

__all__ = [
    "CueConflict",
    "MethodScore",
    "cue_conflict",
    "mass_inside",
    "pointing_hit",
    "score_methods",
]


def pointing_hit(attribution: np.ndarray, mask: np.ndarray, tolerance: int = 0) -> bool:
    """True when the maximum of the map lies on the mask (dilated by `tolerance` pixels)."""
    if tolerance:
        mask = ndimage.binary_dilation(mask, iterations=tolerance)
    peak = np.unravel_index(int(np.argmax(attribution)), attribution.shape)
    return bool(mask[peak])


def mass_inside(attribution: np.ndarray, mask: np.ndarray) -> float:
    """Positive attribution on the object / all positive attribution (0 when none is positive)."""
    positive = np.clip(attribution, 0, None)
    total = float(positive.sum())
    return float(positive[mask].sum()) / total if total > 0 else 0.0


@dataclass(frozen=True)
class MethodScore:
    method: str
    images: int
    pointing_game: float  # share of hits
    mass_inside: float  # mean over images
    area_share: float  # mean share of the image the object covers: a uniform map's mass_inside
    seconds: float


def score_methods(
    model: LoadedModel,
    dataset: ShapesDataset,
    methods: list[str],
    count: int,
    params: dict[str, dict[str, Any]] | None = None,
    progress: Progress | None = None,
) -> list[MethodScore]:
    """Each method on the first `count` images of `dataset`, explaining the true class."""
    count = min(count, len(dataset))
    scores = []
    for m, method in enumerate(methods):
        started = time.perf_counter()
        hits, masses, areas = [], [], []
        for index in range(count):
            drawn = dataset.sample(index)
            pixels = torch.from_numpy(drawn.image).permute(2, 0, 1).float() / 255.0
            result = explain(model, pixels, method, drawn.label, (params or {}).get(method))
            hits.append(pointing_hit(result.attribution, drawn.mask))
            masses.append(mass_inside(result.attribution, drawn.mask))
            areas.append(float(drawn.mask.mean()))
            if progress is not None:
                progress(m * count + index + 1, len(methods) * count)
        scores.append(
            MethodScore(
                method,
                count,
                float(np.mean(hits)),
                float(np.mean(masses)),
                float(np.mean(areas)),
                time.perf_counter() - started,
            )
        )
    return scores


@dataclass(frozen=True)
class CueConflict:
    images: int
    follows_shape: float
    follows_texture: float
    neither: float


@torch.no_grad()
def cue_conflict(model: LoadedModel, dataset: ShapesDataset) -> CueConflict:
    """On a `cue="swapped"` dataset: which cue the model's top-1 class follows."""
    shape = texture = 0
    for start in range(0, len(dataset), model.forward_batch):
        drawn = [
            dataset.sample(i) for i in range(start, min(start + model.forward_batch, len(dataset)))
        ]
        pixels = torch.stack([torch.from_numpy(d.image).permute(2, 0, 1) for d in drawn]).float()
        guesses = model.probabilities(pixels / 255.0).argmax(dim=1).tolist()
        shape += sum(guess == d.label for guess, d in zip(guesses, drawn, strict=True))
        texture += sum(guess == d.texture for guess, d in zip(guesses, drawn, strict=True))
    total = len(dataset)
    return CueConflict(total, shape / total, texture / total, (total - shape - texture) / total)
