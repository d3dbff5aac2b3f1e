"""Concept breakdown of one prediction: which channels of a layer carry the explained class.

Method: gradient × activation per channel (not CRP: Concept Relevance Propagation would need
LRP rules made correct for this architecture — BatchNorm merged, a canonizer for the inverted
residual sums, ReLU6 — and a conservation test; not done). For the post-activation output A of
the layer (app/concepts/tap.py) and the class logit y:

    contribution(c) = Σ_{h,w} A[c,h,w] · ∂y/∂A[c,h,w]      heatmap(c)[h,w] = A · ∂y/∂A at (c,h,w)

so each channel's heatmap sums to its contribution exactly (conservation by construction), and
the contributions of all channels sum to the first-order Taylor term of y at the layer
("total"). Channels are ranked by contribution (largest positive first).
"""

from typing import Any

import torch

from app.concepts.tap import check_layers, tap
from app.errors import BadParameter, BadTarget
from app.zoo import LoadedModel

__all__ = ["METHOD", "breakdown"]

METHOD = "gradient × activation per channel (not CRP)"


def breakdown(
    model: LoadedModel,
    pixels: torch.Tensor,
    layer: str,
    target: int | None = None,
    top: int = 5,
) -> dict[str, Any]:
    """The `top` channels of `layer` contributing most to class `target` (default: the
    predicted one) on (3, S, S) pixels. Returns {"model", "layer", "method", "tapped_as",
    "class", "label", "probability", "logit", "total", "channels": [{"channel",
    "contribution", "share", "heatmap"}]}: heatmap (H, W) at the layer's resolution, share the
    contribution over the sum of absolute contributions of all channels."""
    check_layers(model, [layer])
    if not 1 <= top <= 100:
        raise BadParameter("--top must be between 1 and 100")
    if target is not None and not 0 <= target < model.num_classes:
        raise BadTarget(f"class {target} is out of range 0-{model.num_classes - 1}")
    inputs = pixels[None].to(model.device).detach().clone().requires_grad_(True)
    with tap(model, layer) as found, torch.enable_grad():
        logits = model.module(inputs)
        activation = found.outputs[-1]
        tapped_as = found.tapped_as
        chosen = int(logits[0].argmax()) if target is None else target
        (gradient,) = torch.autograd.grad(logits[0, chosen], activation)
    relevance = (activation * gradient)[0].detach().float().cpu()  # (C, H, W)
    per_channel = relevance.sum(dim=(1, 2))
    scale = float(per_channel.abs().sum()) or 1.0
    order = torch.argsort(per_channel, descending=True, stable=True)[:top]
    probability = float(torch.softmax(logits[0].detach(), dim=0)[chosen])
    return {
        "model": model.name,
        "layer": layer,
        "method": METHOD,
        "tapped_as": tapped_as,
        "class": chosen,
        "label": model.labels[chosen],
        "probability": probability,
        "logit": float(logits[0, chosen].detach()),
        "total": float(per_channel.sum()),
        "channels": [
            {
                "channel": int(channel),
                "contribution": float(per_channel[channel]),
                "share": float(per_channel[channel]) / scale,
                "heatmap": relevance[channel].tolist(),
            }
            for channel in order
        ],
    }
