"""Model-parameter randomisation test (Adebayo et al., NeurIPS 2018).

Re-initialise the network's layers from the top (the classifier) down, one more at a time
("cascading"), or one at a time with the rest trained ("independent"), and recompute the map
for the same image and class. A map that explains the model should change once the model is
destroyed; one that stays alike depends on the image more than on the model.

The network is copied: the loaded model is never modified. Re-initialisation uses each module's
own `reset_parameters()` (PyTorch's default initialisation; BatchNorm also resets its running
statistics), seeded, so the test is repeatable.
"""

import copy
import time
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from app.errors import BadParameter
from app.explain import METHODS, explain
from app.layers import probe_outputs
from app.params import Progress, no_progress
from app.results import result_type
from app.trust.similarity import METRICS, similarities
from app.zoo import LoadedModel

__all__ = ["PASS_THRESHOLD", "RandomizationResult", "randomizable_units", "randomization_test"]

PASS_THRESHOLD = 0.5
"""A method passes when the mean rank correlation (of |map|) over the randomised steps is below
this: its map changed clearly once the model's weights were gone."""


@result_type
@dataclass(frozen=True)
class RandomizationResult:
    method: str
    model: str
    target: int
    mode: Literal["cascading", "independent"]
    steps: list[str]  # per step: the last layer randomised (cascading) or the only one
    similarity: dict[str, list[float]]  # metric -> one value per step
    original: np.ndarray  # (H, W)
    maps: list[np.ndarray]  # (H, W) per step
    mean_rank_correlation: float
    passes: bool
    threshold: float
    seconds: float
    # The data randomisation test against a model trained on random labels, when one was given:
    # what data_randomization_test returns (the Shapes lab's bogus model for its students).
    data_randomization: dict[str, Any] | None = None

    def summary(self) -> dict[str, Any]:
        """Everything but the maps: what the JSON report and the API give."""
        return {
            item.name: getattr(self, item.name)
            for item in fields(self)
            if item.name not in ("original", "maps")
        }


def randomizable_units(network: nn.Module) -> list[str]:
    """Names of the network's layers with parameters, from the output back to the input.

    Children of a ModuleList or Sequential (e.g. the blocks of EfficientNet) count one by one;
    the order is the order they run in, found with one forward pass of hooks."""
    candidates: list[tuple[str, nn.Module]] = []
    for name, child in network.named_children():
        if isinstance(child, nn.ModuleList | nn.Sequential):
            candidates += [(f"{name}.{index}", sub) for index, sub in child.named_children()]
        else:
            candidates.append((name, child))
    with_parameters = [(n, m) for n, m in candidates if any(True for _ in m.parameters())]
    return [name for name, _ in reversed(with_parameters)]


def _order_by_execution(model: LoadedModel, names: list[str]) -> list[str]:
    ran = list(reversed(probe_outputs(model, names)))
    return ran + [name for name in names if name not in ran]


def _reinitialize(module: nn.Module, seed: int) -> None:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for sub in module.modules():
            reset = getattr(sub, "reset_parameters", None)
            if callable(reset):
                reset()


def _pick(count: int, steps: int) -> list[int]:
    """`steps` indices spread over 0..count-1, always the first and the last."""
    if steps >= count:
        return list(range(count))
    return sorted({round(i * (count - 1) / (steps - 1)) for i in range(steps)})


def randomization_test(
    model: LoadedModel,
    pixels: torch.Tensor,
    method: str,
    target: int | None = None,
    params: Mapping[str, Any] | None = None,
    mode: Literal["cascading", "independent"] = "cascading",
    steps: int = 8,
    seed: int = 0,
    progress: Progress = no_progress,
) -> RandomizationResult:
    """Recompute `method`'s map on (3, H, W) `pixels` after randomising layers top-down.

    steps: how many points of the cascade (or single layers) to compute, spread from the top
    layer to all layers; each costs one run of the method."""
    if not 2 <= steps <= 100:
        raise BadParameter(f"steps: {steps} is outside 2 to 100")
    started = time.perf_counter()
    original = explain(model, pixels, method, target, params)
    units = _order_by_execution(model, randomizable_units(model.network))
    chosen = _pick(len(units), steps)
    fast = model.fast_forward is not None and METHODS.get(method).forward_only
    total = len(chosen)
    maps: list[np.ndarray] = []
    similarity: dict[str, list[float]] = {metric: [] for metric in METRICS}
    cascade = copy.deepcopy(model.network)
    randomised = 0  # cascading: units[:randomised] are re-initialised in `cascade`
    for done, index in enumerate(chosen):
        if mode == "cascading":
            for position in range(randomised, index + 1):
                _reinitialize(cascade.get_submodule(units[position]), seed + position)
            randomised = index + 1
            network = cascade
        else:
            network = copy.deepcopy(model.network)
            _reinitialize(network.get_submodule(units[index]), seed + index)
        broken = LoadedModel.from_network(
            model.spec, network, device=model.device, labels=model.labels, weights="randomised"
        )
        broken.forward_batch = model.forward_batch
        if fast:  # the randomised copy gets the model's fast path too (one export, ~1 s)
            broken.enable_fast_forward()

        def inner(step: int, of: int, done: int = done) -> None:
            progress(done * of + step, total * of)

        result = explain(broken, pixels, method, original.target, original.params, inner)
        maps.append(result.attribution)
        for metric, value in similarities(original.attribution, result.attribution).items():
            similarity[metric].append(value)
        progress(done + 1, total)
    mean = float(np.mean(similarity["spearman_abs"]))
    return RandomizationResult(
        method=method,
        model=model.name,
        target=original.target,
        mode=mode,
        steps=[units[index] for index in chosen],
        similarity=similarity,
        original=original.attribution,
        maps=maps,
        mean_rank_correlation=mean,
        passes=mean < PASS_THRESHOLD,
        threshold=PASS_THRESHOLD,
        seconds=time.perf_counter() - started,
    )


def data_randomization_test(
    model: LoadedModel,
    random_labels_model: LoadedModel,
    pixels: torch.Tensor,
    method: str,
    target: int | None = None,
    params: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Data randomisation test (Adebayo et al., section 4): the same method's map from the same
    architecture trained on randomly permuted labels. Each model explains its own prediction
    (or `target` for the first); a map that explains the model should look different."""
    original = explain(model, pixels, method, target, params)
    other = explain(random_labels_model, pixels, method, None, params)
    return {
        "random_labels_model": random_labels_model.name,
        "target": original.target,
        "random_labels_target": other.target,
        "similarity": similarities(original.attribution, other.attribution),
    }
