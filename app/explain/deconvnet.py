"""Deconvnet (Zeiler & Fergus, ECCV 2014), as a backward rule: ReLU-family activations pass the
positive part of the gradient, whatever the forward input was.
raw: (3, H, W); map: (H, W) max over channels of |raw|, >= 0.
"""

from typing import Any

import torch

from app.explain._activation_rules import RuleReport
from app.explain._gradients import channel_max_abs
from app.explain.base import Attribution, GradientMethod, MethodParams
from app.explain.guided_backprop import rule_request, rule_warnings
from app.explain.registry import register_method
from app.explain.shared_pass import GradientRequest
from app.zoo import LoadedModel

__all__ = ["Deconvnet"]


class DeconvnetParams(MethodParams):
    pass


@register_method
class Deconvnet(GradientMethod):
    name = "deconvnet"
    title = "Deconvnet"
    reference = "Zeiler & Fergus, 2014"
    Params = DeconvnetParams
    signed = False

    def gradient_request(self, model: LoadedModel, target: int, params: Any) -> GradientRequest:
        return rule_request(target, "deconvnet")

    def from_gradient(
        self,
        model: LoadedModel,
        pixels: torch.Tensor,
        target: int,
        params: Any,
        gradient: torch.Tensor,
        report: RuleReport | None,
    ) -> Attribution:
        warnings = rule_warnings(report, "deconvnet")
        return Attribution(map=channel_max_abs(gradient), raw=gradient, warnings=warnings)
