"""Guided Grad-CAM (Selvaraju et al., ICCV 2017): guided backprop × upsampled Grad-CAM.

raw: (3, H, W); map: (H, W) max over channels of |raw|, >= 0.
"""

from typing import Any

import torch
from pydantic import Field

from app.explain._activation_rules import RuleReport
from app.explain.base import METHODS, Attribution, GradientMethod
from app.explain.grad_cam import grad_cam
from app.params import Params
from app.zoo import LoadedModel

__all__ = ["GuidedGradCam"]


class GuidedGradCamParams(Params):
    layer: str | None = Field(
        None,
        max_length=200,
        description="Grad-CAM layer; empty = the model's default",
        json_schema_extra={"x-suggest": "layers"},
    )


@METHODS.register
class GuidedGradCam(GradientMethod):
    name = "guided_grad_cam"
    title = "Guided Grad-CAM"
    caption = (
        "Red: fine edges inside the regions Grad-CAM ranks highest for '{label}': where the "
        "model looked, in detail."
    )
    reference = "Selvaraju et al., 2017"
    Params = GuidedGradCamParams
    signed = False
    rule = "guided"

    def from_gradient(
        self,
        model: LoadedModel,
        pixels: torch.Tensor,
        target: int,
        params: Any,
        gradient: torch.Tensor,
        report: RuleReport | None,
    ) -> Attribution:
        # Grad-CAM on the model itself: the gradient copy folds BatchNorm into the layers.
        _, cam, _ = grad_cam(model, pixels, target, params.layer)
        return super().from_gradient(model, pixels, target, params, gradient * cam, report)
