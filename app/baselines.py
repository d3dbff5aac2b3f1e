"""Reference images that stand for 'no information' (occlusion, SHAP, integrated gradients)."""

from typing import Literal

import torch
import torchvision.transforms.functional as TF

from app.zoo import LoadedModel

__all__ = ["Baseline", "make_baseline"]

Baseline = Literal["black", "white", "mean", "blur"]


def make_baseline(pixels: torch.Tensor, kind: Baseline, model: LoadedModel) -> torch.Tensor:
    """Same shape as pixels (N, 3, H, W). `mean` is the training data's mean colour (zero after
    normalisation); `blur` is a Gaussian blur with sigma = 1/16 of the image side."""
    if kind == "black":
        return torch.zeros_like(pixels)
    if kind == "white":
        return torch.ones_like(pixels)
    if kind == "mean":
        mean = torch.tensor(model.preprocessing.mean, dtype=pixels.dtype, device=pixels.device)
        return mean.view(1, -1, 1, 1).expand_as(pixels).clone()
    sigma = max(pixels.shape[-1], pixels.shape[-2]) / 16.0
    kernel = 2 * int(3 * sigma) + 1
    return TF.gaussian_blur(pixels, kernel_size=[kernel, kernel], sigma=[sigma, sigma])
