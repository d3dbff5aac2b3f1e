"""Deconvnet (Zeiler & Fergus, ECCV 2014), as a backward rule: ReLU-family activations pass the
positive part of the gradient, whatever the forward input was.
raw: (3, H, W); map: (H, W) max over channels of |raw|, >= 0.
"""

from app.explain.base import METHODS, GradientMethod
from app.params import Params

__all__ = ["Deconvnet"]


class DeconvnetParams(Params):
    pass


@METHODS.register
class Deconvnet(GradientMethod):
    name = "deconvnet"
    title = "Deconvnet"
    caption = (
        "Red: patterns that excite the network's neurons, reconstructed back to the pixels; it "
        "depends little on the class '{label}'."
    )
    reference = "Zeiler & Fergus, 2014"
    Params = DeconvnetParams
    signed = False
    rule = "deconvnet"
