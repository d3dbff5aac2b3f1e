"""Deletion and insertion curves (Petsiuk et al., "RISE", BMVC 2018).

Deletion: replace the pixels the map ranks highest with the baseline (black, as in the paper),
a growing share at a time, and follow the probability of the class: a faithful map makes it fall
fast (low area under the curve). Insertion: start from a blurred copy (as in the paper) and
reveal pixels in the map's order: a faithful map makes it rise fast (high area). A random map
(uniform noise, seeded) gives the reference for both.
"""

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from app.baselines import Baseline, make_baseline
from app.errors import BadParameter
from app.explain import Explanation, explain
from app.params import Progress, no_progress
from app.results import result_type
from app.zoo import LoadedModel

__all__ = ["Curves", "FaithfulnessResult", "area_under_curve", "deletion_insertion", "faithfulness"]


@dataclass(frozen=True)
class Curves:
    fractions: list[float]  # share of pixels removed (deletion) or revealed (insertion), 0..1
    deletion: list[float]  # probability of the class at each fraction
    insertion: list[float]
    deletion_auc: float
    insertion_auc: float


@result_type
@dataclass(frozen=True)
class FaithfulnessResult:
    method: str
    model: str
    target: int
    deletion_baseline: str
    insertion_baseline: str
    curves: Curves  # the method's map
    random: Curves  # a random map: the reference
    seconds: float

    def summary(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "model": self.model,
            "target": self.target,
            "deletion_baseline": self.deletion_baseline,
            "insertion_baseline": self.insertion_baseline,
            "fractions": self.curves.fractions,
            "deletion": self.curves.deletion,
            "insertion": self.curves.insertion,
            "deletion_auc": self.curves.deletion_auc,
            "insertion_auc": self.curves.insertion_auc,
            "random_deletion": self.random.deletion,
            "random_insertion": self.random.insertion,
            "random_deletion_auc": self.random.deletion_auc,
            "random_insertion_auc": self.random.insertion_auc,
            "seconds": self.seconds,
        }


def area_under_curve(fractions: list[float], values: list[float]) -> float:
    """Trapezoid rule over [0, 1]."""
    x, y = np.asarray(fractions, dtype=np.float64), np.asarray(values, dtype=np.float64)
    return float(np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2.0))


def deletion_insertion(
    model: LoadedModel,
    pixels: torch.Tensor,
    attribution: np.ndarray,
    target: int,
    steps: int = 32,
    deletion_baseline: Baseline = "black",
    insertion_baseline: Baseline = "blur",
    batch_size: int = 16,
    progress: Progress = no_progress,
) -> Curves:
    """Both curves for a (H, W) map over (3, H, W) pixels; pixels are ranked by the map's value
    (highest first, ties by position), `steps` + 1 points from 0 to all pixels."""
    if not 2 <= steps <= 1000:
        raise BadParameter(f"steps: {steps} is outside 2 to 1000")
    image = pixels.detach().float().to(model.device).unsqueeze(0)
    if attribution.shape != tuple(image.shape[-2:]):
        raise BadParameter(f"the map is {attribution.shape}, the image {tuple(image.shape[-2:])}")
    removed = make_baseline(image, deletion_baseline, model)
    start_from = make_baseline(image, insertion_baseline, model)
    height, width = attribution.shape
    order = np.argsort(-np.nan_to_num(attribution).ravel(), kind="stable")
    rank = torch.empty(height * width, dtype=torch.long)
    rank[torch.from_numpy(order)] = torch.arange(height * width)
    rank = rank.view(1, 1, height, width).to(model.device)
    fractions = np.linspace(0.0, 1.0, steps + 1)
    counts = torch.tensor(np.round(fractions * height * width), device=model.device)
    curves: dict[str, list[float]] = {"deletion": [], "insertion": []}
    for start in range(0, len(counts), batch_size):
        chosen = counts[start : start + batch_size].view(-1, 1, 1, 1)
        mask = (rank < chosen).to(image.dtype)  # 1 where the pixel is removed / revealed
        deleted = image * (1 - mask) + removed * mask
        inserted = start_from * (1 - mask) + image * mask
        for name, batch in (("deletion", deleted), ("insertion", inserted)):
            probabilities = torch.softmax(model.forward_logits(batch), dim=-1)
            curves[name] += probabilities[:, target].float().cpu().tolist()
        progress(min(start + batch_size, len(counts)), len(counts))
    x = fractions.tolist()
    return Curves(
        fractions=x,
        deletion=curves["deletion"],
        insertion=curves["insertion"],
        deletion_auc=area_under_curve(x, curves["deletion"]),
        insertion_auc=area_under_curve(x, curves["insertion"]),
    )


def faithfulness(
    model: LoadedModel,
    pixels: torch.Tensor,
    method: str,
    target: int | None = None,
    params: Mapping[str, Any] | None = None,
    steps: int = 32,
    deletion_baseline: Baseline = "black",
    insertion_baseline: Baseline = "blur",
    seed: int = 0,
    progress: Progress = no_progress,
    explanation: Explanation | None = None,
) -> FaithfulnessResult:
    """Explain (or take `explanation`, the same method's map of the same image and class), then
    measure the map's deletion and insertion curves and a random map's."""
    started = time.perf_counter()

    def part(offset: int) -> Progress:
        return lambda done, total: progress(offset * total + done, 3 * total)

    result = explanation or explain(model, pixels, method, target, params, part(0))
    noise = np.random.default_rng(seed).random(result.attribution.shape)
    curves, random = (
        deletion_insertion(
            model,
            pixels,
            attribution,
            result.target,
            steps,
            deletion_baseline,
            insertion_baseline,
            progress=part(index),
        )
        for index, attribution in ((1, result.attribution), (2, noise))
    )
    return FaithfulnessResult(
        method=method,
        model=model.name,
        target=result.target,
        deletion_baseline=deletion_baseline,
        insertion_baseline=insertion_baseline,
        curves=curves,
        random=random,
        seconds=time.perf_counter() - started,
    )
