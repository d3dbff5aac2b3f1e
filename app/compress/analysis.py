"""Two looks inside the model that guide a recipe's settings: how much each layer alone can be
pruned (the sensitivity scan) and how a layer's activations are spread, with the ranges each
calibration rule would quantize (the activation histogram)."""

from dataclasses import dataclass

import numpy as np
import torch

from app.compress._variants import editable_copy
from app.compress.calibration import entropy_range, mse_range
from app.compress.fake_quant import activation_ranges, layer_inputs, quantizable_layers
from app.compress.measure import agreement, kl_divergence, logits_of
from app.compress.pruning import apply_masks, magnitude_masks
from app.errors import BadParameter
from app.params import Progress, no_progress
from app.results import result_type
from app.zoo import LoadedModel

__all__ = [
    "ActivationHistogram",
    "LayerSensitivity",
    "activation_histogram",
    "layer_names",
    "longest_tail_layer",
    "sensitivity_scan",
]


@result_type
@dataclass(frozen=True)
class LayerSensitivity:
    layer: str
    parameters: int
    agreement: float  # top-1 agreement with the original when only this layer is pruned
    kl_divergence: float


def layer_names(model: LoadedModel) -> list[str]:
    """The quantizable (and prunable) layers, in the order they run."""
    return [name for name, _ in quantizable_layers(model.module)]


def sensitivity_scan(
    model: LoadedModel,
    pixels: torch.Tensor,
    sparsity: float,
    progress: Progress = no_progress,
) -> list[LayerSensitivity]:
    """Prune each layer alone to `sparsity` (L1 magnitude) and measure the agreement."""
    network = editable_copy(model)
    reference = logits_of(network, pixels)
    layers = dict(quantizable_layers(network))
    masks = magnitude_masks(network, sparsity, "per_layer")
    scores = []
    for index, (name, layer) in enumerate(layers.items()):
        saved = layer.weight.detach().clone()
        apply_masks(network, {name: masks[name]})
        logits = logits_of(network, pixels)
        with torch.no_grad():
            layer.weight.copy_(saved)
        scores.append(
            LayerSensitivity(
                layer=name,
                parameters=saved.numel(),
                agreement=agreement(reference, logits),
                kl_divergence=kl_divergence(reference, logits),
            )
        )
        progress(index + 1, len(layers))
    return scores


@result_type
@dataclass(frozen=True)
class ActivationHistogram:
    """The input of `layer` over the calibration images: `counts` per bin between `edges`, and
    the (low, high) range each calibration rule would quantize to 256 levels."""

    layer: str
    edges: list[float]
    counts: list[int]
    ranges: dict[str, tuple[float, float]]


def longest_tail_layer(model: LoadedModel, pixels: torch.Tensor, percentile: float = 99.99) -> str:
    """The layer whose input's full range is widest relative to its percentile range: where
    the choice between min/max and clipping calibration matters most."""
    extremes = activation_ranges(model.module, pixels, "minmax")
    clipped = activation_ranges(model.module, pixels, "percentile", percentile)

    def tail(name: str) -> float:
        low, high = clipped[name]
        return (extremes[name][1] - extremes[name][0]) / max(high - low, 1e-8)

    return max(extremes, key=tail)


def activation_histogram(
    model: LoadedModel, layer: str, pixels: torch.Tensor, percentile: float = 99.99, bins: int = 120
) -> ActivationHistogram:
    names = layer_names(model)
    if layer not in names:
        raise BadParameter(f"{layer!r} is not a convolution or linear layer of {model.name}")
    values = np.concatenate(
        [
            inputs[layer].float().cpu().numpy().ravel()
            for inputs in layer_inputs(model.module, pixels, {layer})
        ]
    )
    counts, edges = np.histogram(values, bins=bins)
    ranges = {
        "minmax": (float(values.min()), float(values.max())),
        "percentile": activation_ranges(model.module, pixels, "percentile", percentile, {layer})[
            layer
        ],
        "mse": mse_range(values),
        "entropy": entropy_range(values),
    }
    return ActivationHistogram(
        layer=layer,
        edges=[float(e) for e in edges],
        counts=[int(c) for c in counts],
        ranges=ranges,
    )
