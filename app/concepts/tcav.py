"""TCAV (Kim et al., ICML 2018) through Captum's `captum.concept.TCAV`, with its significance test.

For each layer, Captum trains one concept activation vector (CAV: its default linear SGD
classifier on the flattened layer outputs, a third held out) per experimental set, and scores
the inputs: the TCAV score of a set is the share of inputs whose gradient of the target logit
at the layer points along the concept's CAV (Captum's `sign_count`).

The sets here: [concept, random_i] for every random set (R scores), and [random_i, random_j]
for every pair i < j (R(R-1)/2 scores of random_i: the null distribution). A two-sided
Student t-test (scipy.stats.ttest_ind, equal variances, as in Kim et al.'s code) compares the
concept's R scores with the null scores; p < ALPHA is "significant". With fewer than 2 random
sets there is no test (p is None).

Layers are read where Captum reads them: the named module's output (EfficientNet's block
outputs are linear; `_conv_head` is before its BatchNorm and ReLU6). Captum writes its
activations and CAVs to a temporary folder, removed afterwards.
"""

import random
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np
import torch

from app.concepts.tap import check_layers
from app.errors import BadParameter, BadTarget
from app.params import Progress, no_progress
from app.zoo import LoadedModel

__all__ = ["ALPHA", "ConceptSet", "captum_scores", "run_tcav", "significance"]

ALPHA = 0.05
BATCH = 16


@dataclass(frozen=True)
class ConceptSet:
    """A named set of images: (N, 3, S, S) pixels in [0, 1] at the model's input size."""

    name: str
    pixels: torch.Tensor


def run_tcav(
    model: LoadedModel,
    inputs: torch.Tensor,
    target: int,
    concept: ConceptSet,
    randoms: list[ConceptSet],
    layers: list[str],
    seed: int = 0,
    progress: Progress = no_progress,
) -> dict[str, Any]:
    """TCAV scores of `concept` for class `target` on `inputs` at each layer, with the t-test
    against random-vs-random scores (module docstring). Returns {"model", "target", "label",
    "concept", "randoms", "inputs", "method", "layers": {L: {"concept_scores",
    "random_scores", "score", "random_mean", "t", "p", "significant", "cav_accuracy"}}}."""
    if not 0 <= target < model.num_classes:
        raise BadTarget(f"class {target} is out of range 0-{model.num_classes - 1}")
    if not randoms:
        raise BadParameter("TCAV needs at least one random set (--random)")
    names = [concept.name] + [r.name for r in randoms]
    if len(set(names)) != len(names):
        raise BadParameter("the concept and random sets need different names")
    for item in [concept, *randoms]:
        if item.pixels.shape[0] < 3:
            raise BadParameter(f"set {item.name!r} has under 3 images (a CAV needs a test split)")
    if inputs.shape[0] < 1:
        raise BadParameter("TCAV needs at least one input image of the target class")
    check_layers(model, layers)
    pairs = list(combinations(range(len(randoms)), 2))
    progress(0, 1)
    raw, accuracies = captum_scores(model, inputs, target, concept, randoms, pairs, layers, seed)
    progress(1, 1)
    result: dict[str, Any] = {
        "model": model.name,
        "target": target,
        "label": model.labels[target],
        "concept": concept.name,
        "randoms": [r.name for r in randoms],
        "inputs": int(inputs.shape[0]),
        "method": "Captum TCAV (sign count), two-sided t-test vs random-vs-random",
        "layers": {},
    }
    for layer in layers:
        concept_scores = [raw[("concept", i)][layer] for i in range(len(randoms))]
        random_scores = [raw[("random", i, j)][layer] for i, j in pairs]
        t, p = significance(concept_scores, random_scores)
        result["layers"][layer] = {
            "concept_scores": concept_scores,
            "random_scores": random_scores,
            "score": float(np.mean(concept_scores)),
            "random_mean": float(np.mean(random_scores)) if random_scores else None,
            "t": t,
            "p": p,
            "significant": p is not None and p < ALPHA,
            "cav_accuracy": float(np.mean(accuracies[layer])),
        }
    return result


def significance(
    concept_scores: list[float], random_scores: list[float]
) -> tuple[float | None, float | None]:
    """(t, p) of the two-sided equal-variance t-test, or (None, None) when either side has
    fewer than 2 scores or both have no spread."""
    from scipy import stats

    if len(concept_scores) < 2 or len(random_scores) < 2:
        return None, None
    if np.std(concept_scores) == 0 and np.std(random_scores) == 0:
        return None, None
    test = stats.ttest_ind(concept_scores, random_scores, equal_var=True)
    return float(test.statistic), float(test.pvalue)


def captum_scores(
    model: LoadedModel,
    inputs: torch.Tensor,
    target: int,
    concept: ConceptSet,
    randoms: list[ConceptSet],
    pairs: list[tuple[int, int]],
    layers: list[str],
    seed: int = 0,
) -> tuple[dict[tuple[Any, ...], dict[str, float]], dict[str, list[float]]]:
    """One Captum TCAV.interpret call over [concept, random_i] and [random_i, random_j] (for
    each pair): {("concept", i) or ("random", i, j): {layer: sign_count of the first set}},
    and each layer's CAV test accuracies. Seeded (random, numpy, torch) from `seed`."""
    from captum.concept import Concept

    concepts = [Concept(0, _identifier(concept.name), _batches(concept.pixels, model))]
    concepts += [
        Concept(k + 1, _identifier(r.name), _batches(r.pixels, model))
        for k, r in enumerate(randoms)
    ]
    sets = [[concepts[0], concepts[i + 1]] for i in range(len(randoms))]
    sets += [[concepts[i + 1], concepts[j + 1]] for i, j in pairs]
    keys: list[tuple[Any, ...]] = [("concept", i) for i in range(len(randoms))]
    keys += [("random", i, j) for i, j in pairs]
    captum_layers = [f"network.{layer}" for layer in layers]
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    with tempfile.TemporaryDirectory(prefix="lantern-tcav-") as folder, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Captum's note on its in-memory default classifier
        tcav = _TCAV(model.module, captum_layers, model_id="model", save_path=folder + "/")
        scores = tcav.interpret(inputs.to(model.device), sets, target=target)
        accuracies = {
            layer: [float(tcav.cavs[_key(s)][f"network.{layer}"].stats["accs"]) for s in sets]
            for layer in layers
        }
    raw: dict[tuple[Any, ...], dict[str, float]] = {}
    for key, experimental in zip(keys, sets, strict=True):
        per_layer = scores[_key(experimental)]
        raw[key] = {
            layer: float(per_layer[f"network.{layer}"]["sign_count"][0]) for layer in layers
        }
    return raw, accuracies


def _tcav_class() -> Any:
    """Captum's TCAV, computing each concept's activations once: Captum 0.9's load_cavs asks
    AV.exists(path, model_id, layer, identifier) with the last two swapped, so it never finds
    them and recomputes both concepts' activations for every experimental set (R(R+1)/2 + R
    times the forward passes; the scores are the same)."""
    from captum._utils.av import AV
    from captum.concept import TCAV

    class OnceTCAV(TCAV):
        def generate_activations(self, concept_layers: dict[Any, list[str]]) -> None:
            for concept, layers in concept_layers.items():
                missing = [
                    layer
                    for layer in layers
                    if not AV.exists(self.save_path, self.model_id, concept.identifier, layer)
                ]
                if missing:
                    self.generate_activation(missing, concept)

    return OnceTCAV


def _TCAV(*args: Any, **kwargs: Any) -> Any:
    return _tcav_class()(*args, **kwargs)


def _key(concepts: list[Any]) -> str:
    from captum.concept._utils.common import concepts_to_str

    return str(concepts_to_str(concepts))


def _identifier(name: str) -> str:
    """Captum names its cache files by the concept's name: keep it a file name."""
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name)


class _batches:
    """A re-iterable of (B, 3, S, S) batches on the model's device (Captum iterates a concept's
    data once per layer set it computes)."""

    def __init__(self, pixels: torch.Tensor, model: LoadedModel) -> None:
        self._pixels = pixels
        self._device = model.device

    def __iter__(self) -> Iterator[torch.Tensor]:
        for start in range(0, self._pixels.shape[0], BATCH):
            yield self._pixels[start : start + BATCH].to(self._device)
