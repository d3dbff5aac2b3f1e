"""Guided backpropagation (Springenberg et al., ICLR workshop 2015).

Backward through every ReLU-family activation passes only positive gradients where the forward
input was in the activation's linear range (ReLU and ReLU6 alike; see _activation_rules).
raw: (3, H, W); map: (H, W) max over channels of |raw|, >= 0.
"""

from app.explain.base import METHODS, GradientMethod
from app.params import Params

__all__ = ["GuidedBackprop"]


class GuidedBackpropParams(Params):
    pass


@METHODS.register
class GuidedBackprop(GradientMethod):
    name = "guided_backprop"
    title = "Guided backprop"
    caption = (
        "Red: fine edges and textures the network reacted to on the way to '{label}'; it shows "
        "the photo's edges more than the model (see the sanity check)."
    )
    reference = "Springenberg et al., 2015"
    Params = GuidedBackpropParams
    signed = False
    in_default_panel = True
    rule = "guided"
