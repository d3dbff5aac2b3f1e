"""Occlusion (Zeiler & Fergus, ECCV 2014).

Slide a `window`×`window` patch of the baseline over the image with `stride`; each pixel gets the
mean drop of logit[target] over the windows that cover it (Captum's Occlusion, same windows:
ceil((H - window) / stride) + 1 positions per axis, the last ones clipped at the border).
map: (H, W), signed (negative = hiding the pixel raised the score).
"""

import math
from typing import Any

import torch
from pydantic import Field, model_validator

from app.errors import BadParameter
from app.explain._baselines import Baseline, make_baseline
from app.explain._batching import batched_scores
from app.explain.base import Attribution, Method, MethodParams, Progress
from app.explain.registry import register_method
from app.zoo import LoadedModel

__all__ = ["Occlusion", "window_positions"]


def window_positions(size: int, window: int, stride: int) -> list[int]:
    return [index * stride for index in range(math.ceil((size - window) / stride) + 1)]


class OcclusionParams(MethodParams):
    window: int = Field(32, ge=1, le=1024, description="Side of the square patch, in pixels")
    stride: int = Field(16, ge=1, le=1024, description="Step between patches, in pixels")
    baseline: Baseline = Field("mean", description="What the patch is filled with")
    batch_size: int = Field(16, ge=1, le=1024, description="Occluded images per forward pass")

    @model_validator(mode="after")
    def _stride_within_window(self) -> "OcclusionParams":
        if self.stride > self.window:
            raise ValueError("stride must not exceed window, or some pixels are never occluded")
        return self


@register_method
class Occlusion(Method):
    name = "occlusion"
    title = "Occlusion"
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
        baseline = make_baseline(pixels, params.baseline, model)
        boxes = [
            (top, left)
            for top in window_positions(height, params.window, params.stride)
            for left in window_positions(width, params.window, params.stride)
        ]
        size = params.window

        def occluded(start: int, stop: int) -> torch.Tensor:
            batch = pixels.repeat(stop - start, 1, 1, 1)
            for row, (top, left) in enumerate(boxes[start:stop]):
                batch[row, :, top : top + size, left : left + size] = baseline[
                    0, :, top : top + size, left : left + size
                ]
            return batch

        reference = model.forward_logits(pixels)[0, target].float()
        scores = batched_scores(
            model.forward_logits, len(boxes), occluded, target, params.batch_size, progress
        )
        total = torch.zeros(height, width, device=pixels.device)
        counts = torch.zeros(height, width, device=pixels.device)
        for (top, left), drop in zip(boxes, reference - scores, strict=True):
            total[top : top + size, left : left + size] += drop
            counts[top : top + size, left : left + size] += 1
        return Attribution(map=total / counts)
