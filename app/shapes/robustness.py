"""Noise protects? The same small network trained without and with Gaussian input noise, over
several training seeds, then attacked with the registered FGSM and PGD (app/attacks) at each ε
on the test images: the success rate (share of images whose predicted class the attack changes)
per ε, as curves, with the clean accuracy beside.

The student network stands in for the teacher: training the 3.4 M-parameter teacher twice per
seed does not fit the lab's CPU budget (docs/shapes.md). Attacks run on every test image at
once, grouped by clean prediction (an untargeted attack pushes each image away from its own
prediction, and the registered attacks take one class per batch).
"""

import time
from dataclasses import dataclass
from typing import Annotated

import torch
from pydantic import Field

from app.attacks import ATTACKS
from app.attacks.base import Goal, GradientAttack, loss_gradient
from app.params import Progress, no_progress
from app.results import result_type
from app.settings import Settings
from app.shapes import storage
from app.shapes.base import EXPERIMENTS, SIZE, Experiment, SplitParams, splits, stages
from app.shapes.networks import ShapesStudent, as_loaded
from app.shapes.seeds import Spread, spread, training_seeds
from app.shapes.training import TrainParams, accuracy, train
from app.zoo import LoadedModel

__all__ = [
    "AttackCurve",
    "NoiseRobustness",
    "NoiseRobustnessParams",
    "NoiseRobustnessReport",
    "RobustnessRun",
    "attack_success",
    "noise_robustness",
]

_ATTACKS = ("fgsm", "pgd")


class NoiseRobustnessParams(SplitParams):
    width: int = Field(24, ge=4, le=128, description="Network width (the student's)")
    epochs: int = Field(10, ge=1, le=500)
    learning_rate: float = Field(1e-2, gt=0, le=1.0)
    input_noise: float = Field(
        0.1, gt=0, le=1, description="Std of the Gaussian noise of the noisy run (pixels in [0, 1])"
    )
    epsilons: list[Annotated[int, Field(ge=1, le=255)]] = Field(
        default=[1, 2, 4, 8, 16], min_length=1, description="Attack budgets ε, in 1/255"
    )
    pgd_steps: int = Field(10, ge=1, le=100, description="PGD steps (step ε/4, no random start)")
    seeds: int = Field(
        3, ge=1, le=10, description="Training seeds (seed, seed + 1, …): mean ± sd over them"
    )


@result_type
@dataclass(frozen=True)
class AttackCurve:
    attack: str  # fgsm | pgd
    success_rate: list[Spread]  # one per ε, over the seeds


@result_type
@dataclass(frozen=True)
class RobustnessRun:
    name: str  # "no noise" (the control) or "noise σ = …"
    input_noise: float
    clean_accuracy: Spread
    curves: list[AttackCurve]
    seconds: float  # training and attacks, all seeds


@result_type
@dataclass(frozen=True)
class NoiseRobustnessReport:
    params: dict
    epsilons: list[float]  # in pixel units on [0, 1]
    runs: list[RobustnessRun]
    seconds: float


@torch.no_grad()
def _predict(model: LoadedModel, pixels: torch.Tensor) -> torch.Tensor:
    return model.forward_logits(pixels).argmax(dim=1)


def attack_success(
    model: LoadedModel, pixels: torch.Tensor, method: str, epsilon: float, steps: int = 10
) -> float:
    """Share of (N, 3, H, W) pixels in [0, 1] whose predicted class the untargeted attack
    `method` (fgsm or pgd from ATTACKS) changes within ε in L∞."""
    attacker = ATTACKS.get(method)
    settings = {"epsilon": epsilon} if method == "fgsm" else {"epsilon": epsilon, "steps": steps}
    params = attacker.Params(**settings)
    clean = _predict(model, pixels)
    changed = 0
    for label in clean.unique().tolist():
        batch = pixels[clean == label]
        goal = Goal(int(label))
        if isinstance(attacker, GradientAttack):
            # The attack's own step from the same gradient as its perturb(), for a whole batch
            # (perturb's shared pass takes one image).
            gradient = loss_gradient(model, batch, goal.loss_class)
            adversarial = attacker.from_gradient(batch, gradient, goal, params)
        else:
            adversarial = attacker.perturb(model, batch, goal, params, no_progress)
        changed += int((_predict(model, adversarial.detach()) != label).sum())
    return changed / len(pixels)


def noise_robustness(
    settings: Settings, params: NoiseRobustnessParams, progress: Progress | None = None
) -> NoiseRobustnessReport:
    """Both networks for each seed, attacked; writes the `noise_robustness` report."""
    started = time.perf_counter()
    train_set, validation, test = splits(params)
    epsilons = [value / 255 for value in params.epsilons]
    seeds = training_seeds(params.seed, params.seeds)
    noises = {"no noise": 0.0, f"noise σ = {params.input_noise:g}": params.input_noise}
    stage = stages(progress, len(noises) * len(seeds))
    runs = []
    for index, (name, noise) in enumerate(noises.items()):
        run_started = time.perf_counter()
        clean: list[float] = []
        success: dict[str, list[list[float]]] = {method: [] for method in _ATTACKS}
        for number, seed in enumerate(seeds):
            run_params = TrainParams(
                epochs=params.epochs,
                learning_rate=params.learning_rate,
                input_noise=noise,
                seed=seed,
            )
            torch.manual_seed(seed)  # the initial weights too are the seed's
            result = train(
                ShapesStudent(params.width),
                train_set,
                validation,
                run_params,
                progress=stage(index * len(seeds) + number),
            )
            clean.append(accuracy(result.network, *test))
            model = as_loaded(result.network, f"shapes/{name}", SIZE)
            for method in _ATTACKS:
                success[method].append(
                    [
                        attack_success(model, test[0], method, epsilon, params.pgd_steps)
                        for epsilon in epsilons
                    ]
                )
        curves = [
            AttackCurve(method, [spread(per_epsilon) for per_epsilon in zip(*rates, strict=True)])
            for method, rates in success.items()
        ]
        runs.append(
            RobustnessRun(name, noise, spread(clean), curves, time.perf_counter() - run_started)
        )
    report = NoiseRobustnessReport(
        params.model_dump(mode="json"), epsilons, runs, time.perf_counter() - started
    )
    storage.write_report(settings, "noise_robustness", report)
    return report


@EXPERIMENTS.register
class NoiseRobustness(Experiment):
    name = "noise_robustness"
    title = "Noise against attacks"
    description = (
        "the same network trained with and without Gaussian input noise, attacked with FGSM "
        "and PGD at each ε, over several seeds"
    )
    Params = NoiseRobustnessParams

    def run(
        self,
        settings: Settings,
        params: NoiseRobustnessParams,
        model: LoadedModel,
        progress: Progress | None = None,
    ) -> NoiseRobustnessReport:
        return noise_robustness(settings, params, progress)
