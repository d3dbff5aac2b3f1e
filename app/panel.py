"""run_panel(): several explanation methods and attacks on one image, sharing work.

The dashboard's first view is a panel: the default methods side by side, often with an attack.
Computed one by one, every method repeats the prediction pass and the one-gradient methods
(saliency, guided backprop, deconvnet, guided Grad-CAM, FGSM) each run their own forward and
backward pass. Here the prediction runs once and those gradients come from one batched pass
(app/explain/shared_pass.py), with maps equal to the separate calls; the other methods run as
they would alone, on the same prediction.
"""

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from app.attacks.base import ATTACKS, AttackResult, Goal, GradientAttack
from app.attacks.engine import check_attack_target, package_attack
from app.errors import UnsupportedMethod
from app.explain.base import METHODS, Attribution, Explanation, GradientMethod
from app.explain.engine import (
    check_input,
    check_target,
    package_explanation,
    parse_params,
)
from app.explain.grad_cam import remembered_cams
from app.explain.shared_pass import GradientRequest, input_gradients
from app.params import no_progress
from app.zoo import LoadedModel

__all__ = ["Panel", "run_panel"]


@dataclass(frozen=True)
class Panel:
    explanations: dict[str, Explanation]
    attacks: dict[str, AttackResult]
    shared: tuple[str, ...]  # the methods and attacks whose gradients came from one pass
    seconds: float  # the whole panel, prediction included


def run_panel(
    model: LoadedModel,
    pixels: torch.Tensor,
    methods: Sequence[str],
    attacks: Sequence[str] = (),
    target: int | None = None,
    params: Mapping[str, Mapping[str, Any]] | None = None,
) -> Panel:
    """Explain class `target` (default: the top-1 class) of (3, H, W) pixels in [0, 1] with
    each method, and run each attack (untargeted); params: per method or attack name."""
    started = time.perf_counter()
    params = params or {}
    explainers = {name: METHODS.get(name) for name in methods}
    attackers = {name: ATTACKS.get(name) for name in attacks}
    for name, explainer in explainers.items():
        reason = explainer.supports(model)
        if reason is not None:
            raise UnsupportedMethod(f"{name} cannot run on {model.name}: {reason}")
    parsed = {
        name: parse_params(m.Params, params.get(name), name) for name, m in explainers.items()
    }
    attack_params = {
        name: parse_params(a.Params, params.get(name), name) for name, a in attackers.items()
    }
    batch = check_input(model, pixels)
    if any(explainer.forward_only for explainer in explainers.values()):
        model.ensure_fast_forward()  # deferred at load (see explain)
    probs = model.probabilities(batch)[0]
    chosen = check_target(model, target, probs)
    goal = Goal(int(probs.argmax()))  # the panel's attacks are untargeted
    for name in attackers:
        check_attack_target(model, name, None, probs)

    requests: dict[str, GradientRequest] = {}
    for name, explainer in explainers.items():
        if isinstance(explainer, GradientMethod):
            requests[name] = explainer.gradient_request(model, chosen, parsed[name])
    for name, attacker in attackers.items():
        if isinstance(attacker, GradientAttack):
            requests[name] = attacker.gradient_request(model, goal, attack_params[name])
    shared_started = time.perf_counter()
    gradients, report = (
        input_gradients(model, batch, list(requests.values())) if requests else ([], None)
    )
    by_name = dict(zip(requests, gradients, strict=True))
    shared_seconds = time.perf_counter() - shared_started

    def own_start(name: str) -> float:
        """Each result's time: its own work, plus the shared pass when it took part in it."""
        return time.perf_counter() - (shared_seconds if name in by_name else 0.0)

    explanations = {}
    with remembered_cams():
        for name, explainer in explainers.items():
            own_started = own_start(name)
            if name in by_name:
                assert isinstance(explainer, GradientMethod)
                result: Attribution = explainer.from_gradient(
                    model, batch, chosen, parsed[name], by_name[name], report
                )
            else:
                result = explainer.attribute(model, batch, chosen, parsed[name], no_progress)
            explanations[name] = package_explanation(
                model, name, batch, probs, chosen, parsed[name], result, own_started
            )
    results = {}
    for name, attacker in attackers.items():
        own_started = own_start(name)
        if name in by_name:
            assert isinstance(attacker, GradientAttack)
            adversarial = attacker.from_gradient(batch, by_name[name], goal, attack_params[name])
        else:
            adversarial = attacker.perturb(model, batch, goal, attack_params[name], no_progress)
        results[name] = package_attack(
            model, name, batch, probs, adversarial.detach(), None, attack_params[name], own_started
        )
    return Panel(
        explanations=explanations,
        attacks=results,
        shared=tuple(by_name),
        seconds=time.perf_counter() - started,
    )
