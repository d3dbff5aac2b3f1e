"""Shared gradient helpers for the gradient-based methods."""

import torch
from torch import nn

__all__ = ["channel_max_abs", "input_gradient"]


def input_gradient(module: nn.Module, pixels: torch.Tensor, target: int) -> torch.Tensor:
    """d logit[target] / d pixels, for a batch (N, 3, H, W); same shape as pixels."""
    inputs = pixels.detach().clone().requires_grad_(True)
    logits = module(inputs)
    (grad,) = torch.autograd.grad(logits[:, target].sum(), inputs)
    return grad


def channel_max_abs(raw: torch.Tensor) -> torch.Tensor:
    """(3, H, W) -> (H, W): the largest |value| over colour channels (Simonyan et al., 2014)."""
    return raw.abs().amax(dim=0)
