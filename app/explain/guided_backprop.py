"""Guided backpropagation (Springenberg et al., ICLR workshop 2015).

Backward through every ReLU-family activation passes only positive gradients where the forward
input was in the activation's linear range (ReLU and ReLU6 alike; see _activation_rules).
raw: (3, H, W); map: (H, W) max over channels of |raw|, >= 0.
"""

from typing import Any

import torch

from app.explain._activation_rules import Rule, RuleReport
from app.explain._gradients import channel_max_abs
from app.explain.base import Attribution, GradientMethod, MethodParams
from app.explain.registry import register_method
from app.explain.shared_pass import GradientRequest, target_seed
from app.zoo import LoadedModel

__all__ = ["GuidedBackprop", "rule_request", "rule_warnings"]


def rule_request(target: int, rule: Rule) -> GradientRequest:
    """The gradient of logit[target] with `rule` at every ReLU-family call."""
    return GradientRequest(rule, target_seed(target), ("logit", target))


def rule_warnings(report: RuleReport | None, rule: Rule) -> list[str]:
    method = "guided backprop" if rule == "guided" else "deconvnet"
    return [] if report is None else report.warnings(method)


class GuidedBackpropParams(MethodParams):
    pass


@register_method
class GuidedBackprop(GradientMethod):
    name = "guided_backprop"
    title = "Guided backprop"
    reference = "Springenberg et al., 2015"
    Params = GuidedBackpropParams
    signed = False
    in_default_panel = True

    def gradient_request(self, model: LoadedModel, target: int, params: Any) -> GradientRequest:
        return rule_request(target, "guided")

    def from_gradient(
        self,
        model: LoadedModel,
        pixels: torch.Tensor,
        target: int,
        params: Any,
        gradient: torch.Tensor,
        report: RuleReport | None,
    ) -> Attribution:
        warnings = rule_warnings(report, "guided")
        return Attribution(map=channel_max_abs(gradient), raw=gradient, warnings=warnings)
