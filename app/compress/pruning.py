"""L1-magnitude pruning shared by the pruning recipes and the sensitivity scan (Han et al.,
"Learning both Weights and Connections", NeurIPS 2015): the weights of Conv2d and Linear
layers with the smallest |w| are set to zero, over all layers at once (one global threshold)
or per layer (the same fraction of each)."""

from typing import Annotated, Literal

import torch
from pydantic import Field
from torch import nn

from app.compress.fake_quant import quantizable_layers

__all__ = ["Masks", "Scope", "ScopeParameter", "apply_masks", "magnitude_masks"]

Scope = Literal["global", "per_layer"]
ScopeParameter = Annotated[Scope, Field(description="One threshold for all layers, or per layer")]
"""The scope as a recipe parameter, described once for the pruning recipes that take it."""
Masks = dict[str, torch.Tensor]  # layer name -> bool mask of the weights kept


def magnitude_masks(module: nn.Module, sparsity: float, scope: Scope) -> Masks:
    """Masks keeping the largest |w|, so that `sparsity` of the weights are zero."""
    layers = dict(quantizable_layers(module))
    weights = {name: layer.weight.detach().abs() for name, layer in layers.items()}
    if scope == "global":
        everything = torch.cat([w.flatten() for w in weights.values()])
        threshold = _kth_value(everything, sparsity)
        return {name: w > threshold for name, w in weights.items()}
    return {name: w > _kth_value(w.flatten(), sparsity) for name, w in weights.items()}


def _kth_value(values: torch.Tensor, sparsity: float) -> float:
    count = round(sparsity * values.numel())
    if count <= 0:
        return -1.0  # keep everything (|w| >= 0 > -1)
    return float(torch.kthvalue(values.float(), min(count, values.numel())).values)


def apply_masks(module: nn.Module, masks: Masks) -> None:
    """Zero the pruned weights of `module` in place."""
    layers = dict(quantizable_layers(module))
    with torch.no_grad():
        for name, mask in masks.items():
            layers[name].weight.mul_(mask)
