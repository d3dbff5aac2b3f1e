"""Deconvnet (Zeiler & Fergus, ECCV 2014), as a backward rule: ReLU-family activations pass the
positive part of the gradient, whatever the forward input was.
raw: (3, H, W); map: (H, W) max over channels of |raw|, >= 0.
"""

from app.explain.base import MethodParams
from app.explain.guided_backprop import RuleGradientMethod
from app.explain.registry import register_method

__all__ = ["Deconvnet"]


class DeconvnetParams(MethodParams):
    pass


@register_method
class Deconvnet(RuleGradientMethod):
    name = "deconvnet"
    title = "Deconvnet"
    reference = "Zeiler & Fergus, 2014"
    Params = DeconvnetParams
    signed = False
    rule = "deconvnet"
