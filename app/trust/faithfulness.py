"""Deletion and insertion curves (Petsiuk et al., "RISE", BMVC 2018), with ROAD's imputation.

Deletion: remove the pixels the map ranks highest, a growing share at a time, and follow the
probability of the class: a faithful map makes it fall fast (low area under the curve).
Insertion: start from an image with every pixel removed and reveal pixels in the map's order: a
faithful map makes it rise fast (high area). A random map (uniform noise, seeded) gives the
reference for both.

What a removed pixel becomes: `road` (the default) fills it by noisy linear imputation from the
pixels kept (Rong et al., ICML 2022; app/trust/road.py), so the curve measures what the pixels
told the model, not its reaction to black blobs; `black` (RISE's deletion), `blur` (RISE's
insertion), `white` and `mean` paint it with a baseline image (app/baselines.py).
"""

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch

from app.baselines import Baseline, make_baseline
from app.errors import BadParameter
from app.explain import Explanation, explain
from app.params import Progress, no_progress
from app.results import result_type
from app.trust.road import noisy_linear_impute
from app.zoo import LoadedModel

__all__ = [
    "Curves",
    "FaithfulnessResult",
    "Removal",
    "area_under_curve",
    "deletion_insertion",
    "faithfulness",
]

Removal = Literal["road", Baseline]
"""What a removed pixel becomes: ROAD's imputation from the kept pixels, or a baseline image."""


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
    deletion_baseline: Removal = "road",
    insertion_baseline: Removal = "road",
    batch_size: int = 16,
    progress: Progress = no_progress,
    seed: int = 0,
) -> Curves:
    """Both curves for a (H, W) map over (3, H, W) pixels; pixels are ranked by the map's value
    (highest first, ties by position), `steps` + 1 points from 0 to all pixels. `seed` seeds
    ROAD's imputation noise (`seed` for deletion, `seed` + 1 for insertion)."""
    if not 2 <= steps <= 1000:
        raise BadParameter(f"steps: {steps} is outside 2 to 1000")
    image = pixels.detach().float().to(model.device).unsqueeze(0)
    if attribution.shape != tuple(image.shape[-2:]):
        raise BadParameter(f"the map is {attribution.shape}, the image {tuple(image.shape[-2:])}")
    # One noise stream per curve, so that either curve is the same whatever the other removes.
    deletion_noise = torch.Generator().manual_seed(seed)
    insertion_noise = torch.Generator().manual_seed(seed + 1)
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
        mask = rank < chosen  # True where the pixel is removed (deletion) / revealed (insertion)
        deleted = _remove(model, image, mask, deletion_baseline, deletion_noise)
        inserted = _remove(model, image, ~mask, insertion_baseline, insertion_noise)
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


def _remove(
    model: LoadedModel,
    image: torch.Tensor,
    removed: torch.Tensor,
    removal: Removal,
    noise: torch.Generator,
) -> torch.Tensor:
    """(1, 3, H, W) image, (N, 1, H, W) masks -> (N, 3, H, W): the image with each mask's
    pixels removed."""
    if removal == "road":
        return torch.stack(
            [noisy_linear_impute(image[0], mask[0], generator=noise) for mask in removed]
        )
    gone = removed.to(image.dtype)
    return image * (1 - gone) + make_baseline(image, removal, model) * gone


def faithfulness(
    model: LoadedModel,
    pixels: torch.Tensor,
    method: str,
    target: int | None = None,
    params: Mapping[str, Any] | None = None,
    steps: int = 32,
    deletion_baseline: Removal = "road",
    insertion_baseline: Removal = "road",
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
            seed=seed,
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
