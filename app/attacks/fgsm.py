"""Fast gradient sign method (Goodfellow et al., ICLR 2015).

Untargeted: x' = clip(x + ε·sign(∇ₓ CE(f(x), y))), y the clean prediction.
Targeted:   x' = clip(x - ε·sign(∇ₓ CE(f(x), t))).
"""

from typing import Any

import torch

from app.attacks.base import ATTACKS, AttackParams, Goal, GradientAttack, cross_entropy_seed
from app.explain.shared_pass import GradientRequest
from app.zoo import LoadedModel

__all__ = ["Fgsm"]


class FgsmParams(AttackParams):
    pass


@ATTACKS.register
class Fgsm(GradientAttack):
    name = "fgsm"
    title = "FGSM"
    reference = "Goodfellow, Shlens & Szegedy, 2015"
    Params = FgsmParams

    def gradient_request(self, model: LoadedModel, goal: Goal, params: Any) -> GradientRequest:
        aim = goal.loss_class
        return GradientRequest("plain", cross_entropy_seed(aim), ("cross_entropy", aim))

    def from_gradient(
        self, pixels: torch.Tensor, gradient: torch.Tensor, goal: Goal, params: Any
    ) -> torch.Tensor:
        return (pixels + goal.direction * params.epsilon * gradient.sign()).clamp(0.0, 1.0)
