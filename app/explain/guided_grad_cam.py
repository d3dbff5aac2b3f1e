"""Guided Grad-CAM (Selvaraju et al., ICCV 2017): guided backprop × upsampled Grad-CAM.

raw: (3, H, W); map: (H, W) max over channels of |raw|, >= 0.
"""

from typing import Any

import torch
from pydantic import Field

from app.explain._gradients import channel_max_abs
from app.explain.base import Attribution, Method, MethodParams, Progress
from app.explain.grad_cam import grad_cam
from app.explain.guided_backprop import rule_gradient
from app.explain.registry import register_method
from app.zoo import LoadedModel

__all__ = ["GuidedGradCam"]


class GuidedGradCamParams(MethodParams):
    layer: str | None = Field(
        None,
        max_length=200,
        description="Grad-CAM layer; empty = the model's default",
        json_schema_extra={"x-suggest": "layers"},
    )


@register_method
class GuidedGradCam(Method):
    name = "guided_grad_cam"
    title = "Guided Grad-CAM"
    reference = "Selvaraju et al., 2017"
    Params = GuidedGradCamParams
    signed = False

    def attribute(
        self, model: LoadedModel, pixels: torch.Tensor, target: int, params: Any, progress: Progress
    ) -> Attribution:
        _, cam, _ = grad_cam(model, pixels, target, params.layer)
        progress(1, 2)
        guided, warnings = rule_gradient(model, pixels, target, "guided")
        progress(2, 2)
        raw = guided * cam
        return Attribution(map=channel_max_abs(raw), raw=raw, warnings=warnings)
