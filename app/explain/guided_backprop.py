"""Guided backpropagation (Springenberg et al., ICLR workshop 2015).

Backward through every ReLU-family activation passes only positive gradients where the forward
input was in the activation's linear range (ReLU and ReLU6 alike; see _activation_rules).
raw: (3, H, W); map: (H, W) max over channels of |raw|, >= 0.
"""

from typing import Any

import torch

from app.explain._activation_rules import Rule, activation_rules
from app.explain._gradients import channel_max_abs
from app.explain.base import Attribution, Method, MethodParams, Progress
from app.explain.registry import register_method
from app.zoo import LoadedModel

__all__ = ["GuidedBackprop", "rule_gradient"]


def rule_gradient(
    model: LoadedModel, pixels: torch.Tensor, target: int, rule: Rule
) -> tuple[torch.Tensor, list[str]]:
    """(3, H, W) gradient of logit[target] with `rule` applied at every ReLU-family call."""
    inputs = pixels.detach().clone().requires_grad_(True)
    with activation_rules(model.module, rule) as report:
        logits = model.module(inputs)
    (grad,) = torch.autograd.grad(logits[0, target], inputs)
    method = "guided backprop" if rule == "guided" else "deconvnet"
    return grad[0], report.warnings(method)


class GuidedBackpropParams(MethodParams):
    pass


@register_method
class GuidedBackprop(Method):
    name = "guided_backprop"
    title = "Guided backprop"
    reference = "Springenberg et al., 2015"
    Params = GuidedBackpropParams
    signed = False
    in_default_panel = True

    def attribute(
        self, model: LoadedModel, pixels: torch.Tensor, target: int, params: Any, progress: Progress
    ) -> Attribution:
        raw, warnings = rule_gradient(model, pixels, target, "guided")
        progress(1, 1)
        return Attribution(map=channel_max_abs(raw), raw=raw, warnings=warnings)
