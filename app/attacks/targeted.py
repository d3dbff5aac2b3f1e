"""Targeted perturbation by gradient ascent on  -λ‖r‖₂ + logit[y'](clip(x + r)).

The lecture's formulation (after Szegedy et al., ICLR 2014): find a small r that makes class y'
score high. Adam on r, then projection of r onto the ε-ball (L∞) and of x + r onto [0, 1].
"""

from typing import Any

import torch
from pydantic import Field

from app.attacks.base import ATTACKS, Attack, AttackParams, Goal
from app.params import Progress
from app.zoo import LoadedModel

__all__ = ["Targeted"]


class TargetedParams(AttackParams):
    weight: float = Field(0.05, ge=0.0, le=1000.0, description="λ, the price of ‖r‖₂")
    steps: int = Field(30, ge=1, le=2000, description="Gradient ascent steps")
    learning_rate: float = Field(0.01, gt=0.0, le=1.0, description="Adam step size on r")


def objective(
    logits: torch.Tensor, perturbation: torch.Tensor, target: int, weight: float
) -> torch.Tensor:
    norm = torch.sqrt((perturbation**2).sum() + 1e-12)
    return logits[0, target] - weight * norm


@ATTACKS.register
class Targeted(Attack):
    name = "targeted"
    title = "Targeted perturbation"
    reference = "Szegedy et al., 2014 (the lecture's -λ‖r‖ + logit[y'])"
    Params = TargetedParams
    needs_target = True

    def perturb(
        self, model: LoadedModel, pixels: torch.Tensor, goal: Goal, params: Any, progress: Progress
    ) -> torch.Tensor:
        target = goal.target
        assert target is not None  # the engine refuses a targeted attack without a target
        perturbation = torch.zeros_like(pixels, requires_grad=True)
        optimizer = torch.optim.Adam([perturbation], lr=params.learning_rate)
        for step in range(params.steps):
            optimizer.zero_grad(set_to_none=True)
            logits = model.module((pixels + perturbation).clamp(0.0, 1.0))
            (-objective(logits, perturbation, target, params.weight)).backward()
            optimizer.step()
            with torch.no_grad():
                perturbation.clamp_(-params.epsilon, params.epsilon)
                perturbation.copy_((pixels + perturbation).clamp(0.0, 1.0) - pixels)
            progress(step + 1, params.steps)
        return (pixels + perturbation.detach()).clamp(0.0, 1.0)
