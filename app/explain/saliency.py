"""Vanilla gradient saliency (Simonyan et al., ICLR workshop 2014).

raw: (3, H, W) d logit / d pixel; map: (H, W) max over channels of |raw|, >= 0.
"""

from app.explain.base import METHODS, GradientMethod
from app.params import Params

__all__ = ["Saliency"]


class SaliencyParams(Params):
    pass


@METHODS.register
class Saliency(GradientMethod):
    name = "saliency"
    title = "Vanilla gradient"
    caption = (
        "Brighter red: pixels where the smallest change would move the score for '{label}' the "
        "most (sensitivity, not evidence)."
    )
    reference = "Simonyan, Vedaldi & Zisserman, 2014"
    Params = SaliencyParams
    signed = False
    in_default_panel = True
    in_attack_panel = True
