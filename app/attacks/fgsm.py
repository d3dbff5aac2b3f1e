"""Fast gradient sign method (Goodfellow et al., ICLR 2015).

Untargeted: x' = clip(x + ε·sign(∇ₓ CE(f(x), y))), y the clean prediction.
Targeted:   x' = clip(x - ε·sign(∇ₓ CE(f(x), t))).
"""

from typing import Any

import torch

from app.attacks.base import Attack, AttackParams, loss_gradient
from app.attacks.registry import register_attack
from app.explain.base import Progress
from app.zoo import LoadedModel

__all__ = ["Fgsm"]


class FgsmParams(AttackParams):
    pass


@register_attack
class Fgsm(Attack):
    name = "fgsm"
    title = "FGSM"
    reference = "Goodfellow, Shlens & Szegedy, 2015"
    Params = FgsmParams

    def perturb(
        self,
        model: LoadedModel,
        pixels: torch.Tensor,
        label: int,
        target: int | None,
        params: Any,
        progress: Progress,
    ) -> torch.Tensor:
        if target is None:
            step = params.epsilon * loss_gradient(model, pixels, label).sign()
        else:
            step = -params.epsilon * loss_gradient(model, pixels, target).sign()
        progress(1, 1)
        return (pixels + step).clamp(0.0, 1.0)
