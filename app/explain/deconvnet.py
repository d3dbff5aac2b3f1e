"""Deconvnet (Zeiler & Fergus, ECCV 2014), as a backward rule: ReLU-family activations pass the
positive part of the gradient, whatever the forward input was.
raw: (3, H, W); map: (H, W) max over channels of |raw|, >= 0.
"""

from typing import Any

import torch

from app.explain._gradients import channel_max_abs
from app.explain.base import Attribution, Method, MethodParams, Progress
from app.explain.guided_backprop import rule_gradient
from app.explain.registry import register_method
from app.zoo import LoadedModel

__all__ = ["Deconvnet"]


class DeconvnetParams(MethodParams):
    pass


@register_method
class Deconvnet(Method):
    name = "deconvnet"
    title = "Deconvnet"
    reference = "Zeiler & Fergus, 2014"
    Params = DeconvnetParams
    signed = False

    def attribute(
        self, model: LoadedModel, pixels: torch.Tensor, target: int, params: Any, progress: Progress
    ) -> Attribution:
        raw, warnings = rule_gradient(model, pixels, target, "deconvnet")
        progress(1, 1)
        return Attribution(map=channel_max_abs(raw), raw=raw, warnings=warnings)
