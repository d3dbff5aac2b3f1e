"""Vanilla gradient saliency (Simonyan et al., ICLR workshop 2014).

raw: (3, H, W) d logit / d pixel; map: (H, W) max over channels of |raw|, >= 0.
"""

from typing import Any

import torch

from app.explain._gradients import channel_max_abs, input_gradient
from app.explain.base import Attribution, Method, MethodParams, Progress
from app.explain.registry import register_method
from app.zoo import LoadedModel

__all__ = ["Saliency"]


class SaliencyParams(MethodParams):
    pass


@register_method
class Saliency(Method):
    name = "saliency"
    title = "Vanilla gradient"
    reference = "Simonyan, Vedaldi & Zisserman, 2014"
    Params = SaliencyParams
    signed = False
    in_default_panel = True

    def attribute(
        self, model: LoadedModel, pixels: torch.Tensor, target: int, params: Any, progress: Progress
    ) -> Attribution:
        raw = input_gradient(model.module, pixels, target)[0]
        progress(1, 1)
        return Attribution(map=channel_max_abs(raw), raw=raw)
