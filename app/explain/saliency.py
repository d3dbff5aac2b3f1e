"""Vanilla gradient saliency (Simonyan et al., ICLR workshop 2014).

raw: (3, H, W) d logit / d pixel; map: (H, W) max over channels of |raw|, >= 0.
"""

from typing import Any

import torch

from app.explain._activation_rules import RuleReport
from app.explain._gradients import channel_max_abs
from app.explain.base import METHODS, Attribution, GradientMethod
from app.explain.shared_pass import GradientRequest, target_seed
from app.params import Params
from app.zoo import LoadedModel

__all__ = ["Saliency"]


class SaliencyParams(Params):
    pass


@METHODS.register
class Saliency(GradientMethod):
    name = "saliency"
    title = "Vanilla gradient"
    reference = "Simonyan, Vedaldi & Zisserman, 2014"
    Params = SaliencyParams
    signed = False
    in_default_panel = True

    def gradient_request(self, model: LoadedModel, target: int, params: Any) -> GradientRequest:
        return GradientRequest("plain", target_seed(target), ("logit", target))

    def from_gradient(
        self,
        model: LoadedModel,
        pixels: torch.Tensor,
        target: int,
        params: Any,
        gradient: torch.Tensor,
        report: RuleReport | None,
    ) -> Attribution:
        return Attribution(map=channel_max_abs(gradient), raw=gradient)
