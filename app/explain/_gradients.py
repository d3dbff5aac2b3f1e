"""Shared gradient helpers for the gradient-based methods."""

import torch

from app.zoo import LoadedModel

__all__ = ["channel_max_abs", "input_gradient"]


def input_gradient(model: LoadedModel, pixels: torch.Tensor, target: int) -> torch.Tensor:
    """d logit[target] / d pixels, for a batch (N, 3, H, W), through model.gradient_module;
    same shape as pixels."""
    inputs = model.gradient_inputs(pixels)
    logits = model.gradient_module(inputs)
    (grad,) = torch.autograd.grad(logits[:, target].sum(), inputs)
    return grad


def channel_max_abs(raw: torch.Tensor) -> torch.Tensor:
    """(3, H, W) -> (H, W): the largest |value| over colour channels (Simonyan et al., 2014)."""
    return raw.abs().amax(dim=0)
