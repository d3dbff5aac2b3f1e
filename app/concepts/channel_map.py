"""A channel's map on one image: where in the picture the channel fires.

The channel is read where the channel index reads it (app/concepts/tap.py: after the layer's
activation), and its (h, w) grid is upsampled bilinearly to the model's view of the image, so the
map lies over the same pixels as the exemplars' boxes. Returns (H, W) float32 activations in the
channel's own units (not normalised).
"""

import numpy as np
import torch
import torch.nn.functional as F

from app.concepts.tap import check_layers, tap
from app.errors import BadParameter
from app.zoo import LoadedModel

__all__ = ["channel_map"]


def channel_map(model: LoadedModel, layer: str, channel: int, pixels: torch.Tensor) -> np.ndarray:
    """(3, H, W) pixels in [0, 1] -> (H, W) float32: `channel` of `layer`, upsampled."""
    channels = check_layers(model, [layer])[layer][1]
    if not 0 <= channel < channels:
        raise BadParameter(f"{layer} of {model.name} has channels 0 to {channels - 1}")
    with tap(model, layer) as tapped, torch.no_grad():
        model.module(pixels[None].to(model.device))
        grid = tapped.outputs[-1][:, channel : channel + 1].float()
    height, width = pixels.shape[1:]
    upsampled = F.interpolate(grid, size=(height, width), mode="bilinear", align_corners=False)
    return np.asarray(upsampled[0, 0].cpu().numpy(), dtype=np.float32)
