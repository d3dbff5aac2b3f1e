"""Do the methods agree? Where several maps of one image and class put their weight, measured
from the maps' overlap on a coarse grid, for the line above the panes ("4 of 5 methods point at
the same region (centre)").

Each map is reduced to evidence for the class (its positive part when signed, |value| otherwise)
and average-pooled to a `grid` × `grid` board, so a pixel-level gradient map and a 7 × 7 Grad-CAM
are compared at the same resolution. A method's top cells are its `share` highest cells with any
evidence. Two methods agree when their top cells overlap with an intersection over union of at
least `overlap`; the group is the method with the most such partners, and its partners; the
region is where at least half of the group's top cells lie.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["Consensus", "consensus"]

_ROWS = ("upper", "middle", "lower")
_COLUMNS = ("left", "centre", "right")


@dataclass(frozen=True)
class Consensus:
    agreeing: list[str]  # the methods whose top cells cover at least half the region
    total: int
    region: str  # where the consensus region's centre is, in words
    cells: np.ndarray  # (grid, grid) bool: the consensus region
    sentence: str


def _board(attribution: np.ndarray, signed: bool, grid: int) -> np.ndarray:
    evidence = np.clip(attribution, 0, None) if signed else np.abs(attribution)
    tensor = torch.from_numpy(np.nan_to_num(evidence).astype(np.float32))[None, None]
    return F.adaptive_avg_pool2d(tensor, grid)[0, 0].numpy()


def _top(values: np.ndarray, count: int) -> np.ndarray:
    """A bool mask of the `count` largest positive values (ties by position)."""
    order = np.argsort(-values.ravel(), kind="stable")[:count]
    mask = np.zeros(values.size, dtype=bool)
    mask[order] = True
    return mask.reshape(values.shape) & (values > 0)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = (a | b).sum()
    return float((a & b).sum() / union) if union else 0.0


def _where(cells: np.ndarray) -> str:
    rows, columns = np.nonzero(cells)
    grid = cells.shape[0]
    row = _ROWS[min(2, int(rows.mean() * 3 // grid))]
    column = _COLUMNS[min(2, int(columns.mean() * 3 // grid))]
    if row == "middle" and column == "centre":
        return "centre"
    return f"{row} {column}" if row != "middle" else f"middle {column}"


def consensus(
    maps: Sequence[tuple[str, np.ndarray, bool]],
    grid: int = 14,
    share: float = 0.1,
    overlap: float = 0.25,
) -> Consensus:
    """maps: (method title, (H, W) map, signed) of one image and class, two or more."""
    if len(maps) < 2:
        raise ValueError("consensus needs two maps or more")
    count = max(1, round(share * grid * grid))
    tops = [_top(_board(attribution, signed, grid), count) for _, attribution, signed in maps]
    partners = [
        [n for n, other in enumerate(tops) if n != m and _iou(top, other) >= overlap]
        for m, top in enumerate(tops)
    ]
    leader = max(range(len(maps)), key=lambda m: len(partners[m]))  # the first on ties
    group = sorted([leader, *partners[leader]])
    names = [maps[m][0] for m in group]
    region = np.mean([tops[m] for m in group], axis=0) >= 0.5
    if len(group) < 2 or not region.any():
        sentence = f"The {len(maps)} methods point at different regions."
        return Consensus([], len(maps), "", region, sentence)
    where = _where(region)
    others = [name for name, _, _ in maps if name not in names]
    sentence = f"{len(group)} of {len(maps)} methods point at the same region ({where})"
    if others:
        sentence += f"; {', '.join(others)} {'looks' if len(others) == 1 else 'look'} elsewhere"
    return Consensus(names, len(maps), where, region, sentence + ".")
