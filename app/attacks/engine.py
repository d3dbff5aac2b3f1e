"""attack(): validate, run one registered attack, and package the result."""

import time
from collections.abc import Mapping
from typing import Any

import torch

from app.attacks.base import ATTACKS, AttackParams, AttackResult, Goal
from app.errors import BadTarget
from app.explain.engine import check_input, check_target
from app.params import Progress, no_progress, parse_params
from app.zoo import LoadedModel

__all__ = ["attack", "check_attack_target", "package_attack"]


def attack(
    model: LoadedModel,
    pixels: torch.Tensor,
    method: str,
    target: int | None = None,
    params: Mapping[str, Any] | None = None,
    progress: Progress = no_progress,
) -> AttackResult:
    """Perturb (3, H, W) pixels in [0, 1]; with `target`, towards that class."""
    attacker = ATTACKS.get(method)
    parsed = parse_params(attacker.Params, params, method)
    batch = check_input(model, pixels)
    probs_before = model.probabilities(batch)[0]
    label = int(probs_before.argmax())
    check_attack_target(model, method, target, probs_before)
    started = time.perf_counter()
    adversarial = attacker.perturb(model, batch, Goal(label, target), parsed, progress).detach()
    return package_attack(model, method, batch, probs_before, adversarial, target, parsed, started)


def check_attack_target(
    model: LoadedModel, method: str, target: int | None, probs: torch.Tensor
) -> None:
    if target is not None:
        check_target(model, target, probs)
    elif ATTACKS.get(method).needs_target:
        raise BadTarget(f"the {method} attack needs a target class")


def package_attack(
    model: LoadedModel,
    method: str,
    batch: torch.Tensor,
    probs_before: torch.Tensor,
    adversarial: torch.Tensor,
    target: int | None,
    params: AttackParams,
    started: float,
) -> AttackResult:
    """The AttackResult of `adversarial`, with its predictions, timed from `started`."""
    probs_after = model.probabilities(adversarial)[0]
    seconds = time.perf_counter() - started
    return AttackResult(
        method=method,
        model=model.name,
        input=batch[0].cpu().numpy(),
        adversarial=adversarial[0].cpu().numpy(),
        probs_before=probs_before.float().cpu().numpy(),
        probs_after=probs_after.float().cpu().numpy(),
        target=target,
        params=params.model_dump(mode="json"),
        seconds=seconds,
        device=str(model.device),
    )
