"""Projected gradient descent, L∞ (Madry et al., ICLR 2018).

`steps` FGSM steps of `step_size` (default ε/4), each followed by projection onto the ε-ball
around x and onto [0, 1]; optionally from a uniform random start in the ball.
"""

from typing import Any

import torch
from pydantic import Field

from app.attacks.base import ATTACKS, Attack, AttackParams, Goal, loss_gradient
from app.params import Progress
from app.zoo import LoadedModel

__all__ = ["Pgd"]


class PgdParams(AttackParams):
    steps: int = Field(10, ge=1, le=1000, description="Gradient steps")
    step_size: float | None = Field(
        None, gt=0.0, le=1.0, description="Step per iteration; empty = ε/4"
    )
    random_start: bool = Field(False, description="Start from a random point in the ε-ball")
    seed: int = Field(0, ge=0, description="Seed of the random start")


@ATTACKS.register
class Pgd(Attack):
    name = "pgd"
    title = "PGD"
    reference = "Madry et al., 2018"
    Params = PgdParams

    def perturb(
        self, model: LoadedModel, pixels: torch.Tensor, goal: Goal, params: Any, progress: Progress
    ) -> torch.Tensor:
        epsilon = params.epsilon
        step_size = params.step_size if params.step_size is not None else epsilon / 4
        adversarial = pixels.clone()
        if params.random_start:
            generator = torch.Generator(device="cpu").manual_seed(params.seed)
            start = torch.rand(pixels.shape, generator=generator).to(pixels.device)
            adversarial = (pixels + (2 * start - 1) * epsilon).clamp(0.0, 1.0)
        for step in range(params.steps):
            gradient = loss_gradient(model, adversarial, goal.loss_class)
            adversarial = adversarial + goal.direction * step_size * gradient.sign()
            adversarial = torch.min(torch.max(adversarial, pixels - epsilon), pixels + epsilon)
            adversarial = adversarial.clamp(0.0, 1.0)
            progress(step + 1, params.steps)
        return adversarial
