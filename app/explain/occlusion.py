"""Occlusion (Zeiler & Fergus, ECCV 2014).

Slide a `window`×`window` patch of the baseline over the image with `stride`; each pixel gets the
mean drop of logit[target] over the windows that cover it (Captum's Occlusion, same windows:
ceil((H - window) / stride) + 1 positions per axis, the last ones clipped at the border).
map: (H, W), signed (negative = hiding the pixel raised the score).

Modes: `full` runs every occluded image through the whole model (the reference); `incremental`
gives the same map (within float rounding, checked against the model when prepared) while
recomputing only the early activations each patch changes (app/zoo/incremental.py; models
without declared stages use `full`); `drill_down` is approximate (after Krypton's adaptive
drill-down, Nakandala et al., 2019): every other window position per axis is computed, the drops
of the remaining windows are predicted from that coarse map, and the `refine` share of them with
the largest predicted |drop| is computed exactly.
"""

import math
from typing import Any, Literal

import torch
from pydantic import Field, model_validator

from app.baselines import Baseline, make_baseline
from app.errors import BadParameter
from app.explain._batching import batched_scores
from app.explain.base import METHODS, Attribution, Method
from app.params import Params, Progress
from app.zoo import LoadedModel
from app.zoo.incremental import IncrementalOcclusion

__all__ = ["Occlusion", "window_positions"]

Mode = Literal["incremental", "full", "drill_down"]
_WORTH_PREPARING = 400  # windows


def window_positions(size: int, window: int, stride: int) -> list[int]:
    return [index * stride for index in range(math.ceil((size - window) / stride) + 1)]


class OcclusionParams(Params):
    window: int = Field(32, ge=1, le=1024, description="Side of the square patch, in pixels")
    stride: int = Field(16, ge=1, le=1024, description="Step between patches, in pixels")
    baseline: Baseline = Field("mean", description="What the patch is filled with")
    batch_size: int | None = Field(
        None, ge=1, le=1024, description="Occluded images per forward pass (empty: the device's)"
    )
    mode: Mode = Field(
        "incremental",
        description="incremental: same map as full, recomputing only what each patch changes;"
        " full: every occluded image from scratch; drill_down: approximate, coarse then refined",
    )
    refine: float = Field(
        0.25, gt=0.0, le=1.0, description="drill_down: share of the skipped windows computed"
    )

    @model_validator(mode="after")
    def _stride_within_window(self) -> "OcclusionParams":
        if self.stride > self.window:
            raise ValueError("stride must not exceed window, or some pixels are never occluded")
        return self


class _Windows:
    """The occluded images of one attribution, scored in batches by the chosen engine."""

    def __init__(
        self,
        model: LoadedModel,
        pixels: torch.Tensor,
        baseline: torch.Tensor,
        size: int,
        params: Any,
        target: int,
        count: int,
    ) -> None:
        self.model, self.pixels, self.baseline, self.size = model, pixels, baseline, size
        self.params, self.target = params, target
        self.engine: IncrementalOcclusion | None = None
        self.note = model.engine
        if params.mode != "full":
            # Preparing costs about 200 full passes (two exports, a check): worth it for a model
            # kept in memory (load_model prepares it at start-up) or a long run, not for a
            # short run on a throw-away copy (the sanity check's randomised models).
            self.engine, _ = model.incremental_occlusion(prepare=count >= _WORTH_PREPARING)
            if self.engine is not None:
                self.activations = self.engine.clean_activations(pixels)
                self.note = f"{self.engine.engine}, incremental"

    def scores(self, boxes: list[tuple[int, int]], progress: Progress) -> torch.Tensor:
        """logit[target] of the image occluded at each (top, left)."""
        batch_size = self.params.batch_size or self.model.forward_batch
        if self.engine is None:
            return batched_scores(
                self.model.forward_logits,
                len(boxes),
                lambda start, stop: self._images(boxes, start, stop),
                self.target,
                batch_size,
                progress,
            )
        origins = self._origins(boxes).to(self.pixels.device)
        scores = []
        with torch.no_grad():
            for start in range(0, len(boxes), batch_size):
                stop = min(start + batch_size, len(boxes))
                patches = self._patches(boxes, start, stop)
                logits = self.engine.logits(self.activations, origins[start:stop], patches)
                scores.append(logits[:, self.target].float())
                progress(stop, len(boxes))
        return torch.cat(scores)

    def _images(self, boxes: list[tuple[int, int]], start: int, stop: int) -> torch.Tensor:
        size, baseline = self.size, self.baseline
        batch = self.pixels.repeat(stop - start, 1, 1, 1)
        for row, (top, left) in enumerate(boxes[start:stop]):
            batch[row, :, top : top + size, left : left + size] = baseline[
                0, :, top : top + size, left : left + size
            ]
        return batch

    def _origins(self, boxes: list[tuple[int, int]]) -> torch.Tensor:
        """Each window's box, moved inside the image when the window is clipped at the border."""
        height, width = self.pixels.shape[-2:]
        return torch.tensor(
            [(min(top, height - self.size), min(left, width - self.size)) for top, left in boxes],
            dtype=torch.long,
        ).reshape(-1, 2)

    def _patches(self, boxes: list[tuple[int, int]], start: int, stop: int) -> torch.Tensor:
        size = self.size
        patches = []
        for (top, left), (row, col) in zip(
            boxes[start:stop], self._origins(boxes[start:stop]).tolist(), strict=True
        ):
            patch = self.pixels[0, :, row : row + size, col : col + size].clone()
            # The window's part of the box (all of it unless the window is clipped at the border).
            patch[:, top - row :, left - col :] = self.baseline[
                0, :, top : row + size, left : col + size
            ]
            patches.append(patch)
        return torch.stack(patches)


@METHODS.register
class Occlusion(Method):
    name = "occlusion"
    title = "Occlusion"
    caption = (
        "Red: covering this patch lowers the score for '{label}' (evidence for it); blue: "
        "covering it raises the score (evidence against)."
    )
    reference = "Zeiler & Fergus, 2014"
    Params = OcclusionParams
    signed = True
    in_default_panel = True
    forward_only = True

    def attribute(
        self, model: LoadedModel, pixels: torch.Tensor, target: int, params: Any, progress: Progress
    ) -> Attribution:
        _, _, height, width = pixels.shape
        if params.window > min(height, width):
            raise BadParameter(f"window {params.window} is larger than the {height}×{width} input")
        size = params.window
        baseline = make_baseline(pixels, params.baseline, model)
        rows = window_positions(height, size, params.stride)
        cols = window_positions(width, size, params.stride)
        boxes = [(top, left) for top in rows for left in cols]
        windows = _Windows(model, pixels, baseline, size, params, target, len(boxes))
        reference = model.forward_logits(pixels)[0, target].float()
        if params.mode == "drill_down":
            drops = _drill_down(windows, rows, cols, reference, params.refine, progress)
        else:
            drops = reference - windows.scores(boxes, progress)
        return Attribution(
            map=_accumulate(boxes, drops, size, height, width, pixels.device),
            engine=windows.note + (", drill-down" if params.mode == "drill_down" else ""),
        )


def _accumulate(
    boxes: list[tuple[int, int]],
    drops: torch.Tensor,
    size: int,
    height: int,
    width: int,
    device: torch.device,
) -> torch.Tensor:
    """(H, W): each pixel's mean drop over the windows covering it."""
    total = torch.zeros(height, width, device=device)
    counts = torch.zeros(height, width, device=device)
    for (top, left), drop in zip(boxes, drops.to(device), strict=True):
        total[top : top + size, left : left + size] += drop
        counts[top : top + size, left : left + size] += 1
    return total / counts.clamp(min=1)


def _drill_down(
    windows: _Windows,
    rows: list[int],
    cols: list[int],
    reference: torch.Tensor,
    refine: float,
    progress: Progress,
) -> torch.Tensor:
    """Drops of every window (row-major over rows × cols): every other position per axis (and
    the last) computed, the rest predicted from the coarse map; the `refine` share of the rest
    with the largest predicted |drop| computed too."""
    height, width = windows.pixels.shape[-2:]
    size = windows.size

    def coarse_positions(count: int) -> set[int]:
        return set(range(0, count, 2)) | {count - 1}

    index = [(i, j) for i in range(len(rows)) for j in range(len(cols))]
    coarse_rows, coarse_cols = coarse_positions(len(rows)), coarse_positions(len(cols))
    coarse = [k for k, (i, j) in enumerate(index) if i in coarse_rows and j in coarse_cols]
    rest = [k for k in range(len(index)) if k not in set(coarse)]
    boxes = [(rows[i], cols[j]) for i, j in index]
    extra = math.ceil(refine * len(rest)) if rest else 0
    total = len(coarse) + extra

    drops = torch.zeros(len(boxes), device=reference.device)
    coarse_drops = reference - windows.scores(
        [boxes[k] for k in coarse], lambda done, _: progress(done, total)
    )
    drops[coarse] = coarse_drops.to(drops.device)
    coarse_map = _accumulate(
        [boxes[k] for k in coarse], coarse_drops, size, height, width, drops.device
    )
    for k in rest:
        top, left = boxes[k]
        drops[k] = coarse_map[top : top + size, left : left + size].mean()
    if extra:
        order = sorted(rest, key=lambda k: -abs(float(drops[k])))[:extra]
        fine = reference - windows.scores(
            [boxes[k] for k in order], lambda done, _: progress(len(coarse) + done, total)
        )
        drops[order] = fine.to(drops.device)
    return drops
