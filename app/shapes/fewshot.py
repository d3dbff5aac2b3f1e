"""Few-shot classification: k nearest neighbours on a pretrained network's features.

A handful of labelled examples (1–5 per class) are embedded once with the network's pooled
features (what its last Linear layer receives), L2-normalised; a query gets the majority label
of its k most cosine-similar examples, and those examples are its explanation.
"""

from dataclasses import dataclass

import torch
from torch import nn

from app.errors import BadParameter
from app.results import result_type
from app.zoo import LoadedModel

__all__ = ["FewShotClassifier", "FewShotPrediction", "FewShotResult", "Neighbour", "embed"]


@dataclass(frozen=True)
class Neighbour:
    index: int  # into the examples
    label: str
    similarity: float  # cosine, in [-1, 1]


@dataclass(frozen=True)
class FewShotPrediction:
    label: str
    votes: dict[str, float]  # label -> summed similarity of its neighbours among the k
    neighbours: list[Neighbour]  # the k nearest, most similar first


@result_type
@dataclass(frozen=True)
class FewShotResult:
    """A few-shot job's result: one prediction per query image, in the queries' order."""

    queries: list[str]  # image ids
    examples: list[str]  # image ids, the neighbours' `index` points into these
    predictions: list[FewShotPrediction]


@torch.no_grad()
def embed(model: LoadedModel, pixels: torch.Tensor, batch: int = 32) -> torch.Tensor:
    """(N, 3, S, S) pixels in [0, 1] -> (N, D) unit vectors: the input of the model's last
    Linear layer (the pooled features for EfficientNet and the torchvision classifiers)."""
    linears = [m for m in model.network.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise BadParameter(f"{model.name} has no Linear layer to take features from")
    captured: list[torch.Tensor] = []
    handle = linears[-1].register_forward_hook(
        lambda module, args, output: captured.append(args[0].flatten(1))
    )
    try:
        for start in range(0, len(pixels), batch):
            model.module(pixels[start : start + batch].to(model.device))
    finally:
        handle.remove()
    features = torch.cat(captured).float().cpu()
    return torch.nn.functional.normalize(features, dim=1)


class FewShotClassifier:
    def __init__(self, model: LoadedModel, pixels: torch.Tensor, labels: list[str], k: int = 1):
        if len(pixels) != len(labels) or not labels:
            raise BadParameter("give at least one example, each with a label")
        if len(set(labels)) < 2:
            raise BadParameter("give examples of at least two classes")
        if not 1 <= k <= len(labels):
            raise BadParameter(f"k must be between 1 and the number of examples ({len(labels)})")
        self.model, self.labels, self.k = model, list(labels), k
        self.features = embed(model, pixels)

    def predict(self, pixels: torch.Tensor) -> list[FewShotPrediction]:
        queries = embed(self.model, pixels)
        similarity = queries @ self.features.T
        results = []
        for row in similarity:
            values, indices = row.topk(self.k)
            neighbours = [
                Neighbour(int(i), self.labels[int(i)], float(v))
                for v, i in zip(values, indices, strict=True)
            ]
            votes: dict[str, float] = {}
            for neighbour in neighbours:
                votes[neighbour.label] = votes.get(neighbour.label, 0.0) + neighbour.similarity
            results.append(FewShotPrediction(max(votes, key=votes.__getitem__), votes, neighbours))
        return results
