"""The result type and base class of adversarial attacks. ε is in pixel units on [0, 1] images."""

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field

from app.errors import UnknownAttack
from app.explain.shared_pass import GradientRequest, Seed, input_gradients
from app.params import Params, Progress
from app.registry import Registry
from app.results import result_type
from app.zoo import LoadedModel

__all__ = [
    "ATTACKS",
    "Attack",
    "AttackParams",
    "AttackResult",
    "Goal",
    "GradientAttack",
    "cross_entropy_seed",
    "loss_gradient",
]


class AttackParams(Params):
    epsilon: float = Field(
        8 / 255, ge=0.0, le=1.0, description="Largest change of any pixel (L∞), in [0, 1] units"
    )


@result_type
@dataclass(frozen=True)
class AttackResult:
    method: str
    model: str
    input: np.ndarray  # (3, H, W) float32 in [0, 1]
    adversarial: np.ndarray  # (3, H, W) float32 in [0, 1]
    probs_before: np.ndarray
    probs_after: np.ndarray
    target: int | None  # the class aimed at, None for untargeted
    params: dict[str, Any]
    seconds: float
    device: str

    @property
    def perturbation(self) -> np.ndarray:
        difference: np.ndarray = self.adversarial - self.input
        return difference

    @property
    def label_before(self) -> int:
        return int(self.probs_before.argmax())

    @property
    def label_after(self) -> int:
        return int(self.probs_after.argmax())

    @property
    def success(self) -> bool:
        if self.target is None:
            return self.label_after != self.label_before
        return self.label_after == self.target

    def npz_arrays(self) -> dict[str, Any]:
        return {
            "input": self.input,
            "adversarial": self.adversarial,
            "perturbation": self.perturbation,
            "probs_before": self.probs_before,
            "probs_after": self.probs_after,
            "target": np.int64(-1 if self.target is None else self.target),
            "method": np.str_(self.method),
            "model": np.str_(self.model),
            "params": np.str_(json.dumps(self.params, sort_keys=True)),
            "seconds": np.float64(self.seconds),
        }


def loss_gradient(model: LoadedModel, pixels: torch.Tensor, label: int) -> torch.Tensor:
    """∇ₓ cross-entropy(logits(x), label), same shape as pixels (N, 3, H, W)."""
    inputs = model.gradient_inputs(pixels)
    labels = torch.full((inputs.shape[0],), label, device=inputs.device, dtype=torch.long)
    loss = F.cross_entropy(model.gradient_module(inputs), labels, reduction="sum")
    (grad,) = torch.autograd.grad(loss, inputs)
    return grad


@dataclass(frozen=True)
class Goal:
    """What an attack is after: moving the image away from `label`, its clean prediction, or,
    with `target`, making the model predict that class."""

    label: int
    target: int | None = None

    @property
    def loss_class(self) -> int:
        """The class whose cross-entropy the attack follows: `label`'s up, or `target`'s down."""
        return self.label if self.target is None else self.target

    @property
    def direction(self) -> float:
        """+1 to ascend the loss (away from `label`), -1 to descend it (towards `target`)."""
        return 1.0 if self.target is None else -1.0


class Attack(ABC):
    name: ClassVar[str]
    title: ClassVar[str]
    reference: ClassVar[str]
    Params: ClassVar[type[AttackParams]]
    needs_target: ClassVar[bool] = False

    @abstractmethod
    def perturb(
        self, model: LoadedModel, pixels: torch.Tensor, goal: Goal, params: Any, progress: Progress
    ) -> torch.Tensor:
        """(1, 3, H, W) adversarial pixels in [0, 1], within ε of `pixels` in L∞."""


class GradientAttack(Attack):
    """An attack made of one input gradient: it can share a batched pass with gradient
    explanation methods and other such attacks (app/explain/shared_pass.py, app/panel.py)."""

    @abstractmethod
    def gradient_request(self, model: LoadedModel, goal: Goal, params: Any) -> GradientRequest:
        """The output gradient this attack needs."""

    @abstractmethod
    def from_gradient(
        self, pixels: torch.Tensor, gradient: torch.Tensor, goal: Goal, params: Any
    ) -> torch.Tensor:
        """The adversarial pixels from the requested (3, H, W) gradient."""

    def perturb(
        self, model: LoadedModel, pixels: torch.Tensor, goal: Goal, params: Any, progress: Progress
    ) -> torch.Tensor:
        request = self.gradient_request(model, goal, params)
        (gradient,), _ = input_gradients(model, pixels, [request])
        progress(1, 1)
        return self.from_gradient(pixels, gradient, goal, params)


def cross_entropy_seed(label: int) -> Seed:
    """The gradient of cross-entropy(logits, label) at the logits: softmax - one_hot."""

    def seed(logits: torch.Tensor) -> torch.Tensor:
        one_hot = F.one_hot(torch.tensor(label), logits.shape[-1]).to(logits)
        return torch.softmax(logits, dim=-1) - one_hot

    return seed


ATTACKS: Registry[Attack] = Registry("attack", UnknownAttack)
"""The only list of attacks: `@ATTACKS.register` on the class adds it."""
