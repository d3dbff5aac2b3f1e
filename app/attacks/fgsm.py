"""Fast gradient sign method (Goodfellow et al., ICLR 2015).

Untargeted: x' = clip(x + ε·sign(∇ₓ CE(f(x), y))), y the clean prediction.
Targeted:   x' = clip(x - ε·sign(∇ₓ CE(f(x), t))).
"""

from typing import Any

import torch

from app.attacks.base import ATTACKS, Attack, AttackParams, cross_entropy_seed
from app.explain.shared_pass import GradientRequest, input_gradients
from app.params import Progress
from app.zoo import LoadedModel

__all__ = ["Fgsm"]


class FgsmParams(AttackParams):
    pass


@ATTACKS.register
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
        request = self.gradient_request(model, label, target, params)
        (gradient,), _ = input_gradients(model, pixels, [request])
        progress(1, 1)
        return self.from_gradient(pixels, gradient, target, params)

    def gradient_request(
        self, model: LoadedModel, label: int, target: int | None, params: Any
    ) -> GradientRequest:
        aim = label if target is None else target
        return GradientRequest("plain", cross_entropy_seed(aim), ("cross_entropy", aim))

    def from_gradient(
        self, pixels: torch.Tensor, gradient: torch.Tensor, target: int | None, params: Any
    ) -> torch.Tensor:
        direction = 1.0 if target is None else -1.0  # away from the label, or towards the target
        return (pixels + direction * params.epsilon * gradient.sign()).clamp(0.0, 1.0)
