"""Guided backpropagation (Springenberg et al., ICLR workshop 2015).

Backward through every ReLU-family activation passes only positive gradients where the forward
input was in the activation's linear range (ReLU and ReLU6 alike; see _activation_rules).
raw: (3, H, W); map: (H, W) max over channels of |raw|, >= 0.
"""

from typing import Any, ClassVar

import torch

from app.explain._activation_rules import Rule, RuleReport
from app.explain._gradients import channel_max_abs
from app.explain.base import METHODS, Attribution, GradientMethod
from app.explain.shared_pass import GradientRequest, target_seed
from app.params import Params
from app.zoo import LoadedModel

__all__ = ["GuidedBackprop", "RuleGradientMethod"]


class RuleGradientMethod(GradientMethod):
    """The gradient of logit[target] with `rule` at every ReLU-family call; map: max over
    channels of |raw|. Guided backprop and deconvnet; guided Grad-CAM builds on it."""

    rule: ClassVar[Rule]

    def gradient_request(self, model: LoadedModel, target: int, params: Any) -> GradientRequest:
        return GradientRequest(self.rule, target_seed(target), ("logit", target))

    def from_gradient(
        self,
        model: LoadedModel,
        pixels: torch.Tensor,
        target: int,
        params: Any,
        gradient: torch.Tensor,
        report: RuleReport | None,
    ) -> Attribution:
        return Attribution(
            map=channel_max_abs(gradient), raw=gradient, warnings=self.rule_warnings(report)
        )

    def rule_warnings(self, report: RuleReport | None) -> list[str]:
        method = "guided backprop" if self.rule == "guided" else "deconvnet"
        return [] if report is None else report.warnings(method)


class GuidedBackpropParams(Params):
    pass


@METHODS.register
class GuidedBackprop(RuleGradientMethod):
    name = "guided_backprop"
    title = "Guided backprop"
    reference = "Springenberg et al., 2015"
    Params = GuidedBackpropParams
    signed = False
    in_default_panel = True
    rule = "guided"
