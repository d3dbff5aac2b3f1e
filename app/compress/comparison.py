"""Measure a variant against the original on this machine: file size, parameter and non-zero
counts, latency at batch 1 and 8, top-1 agreement, KL divergence, accuracy (with labels), each
agreement and accuracy with its Wilson 95 % interval over the evaluation images, and the drift
of its explanations — the rank correlation and the top-10 % overlap of its maps with the
original's, for the same images and classes."""

import dataclasses
import statistics
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from app.compress._variants import editable_copy, safetensors_bytes, weights_of
from app.compress.base import CompressedModel, Recovery
from app.compress.measure import (
    agreement,
    count_parameters,
    kl_divergence,
    latencies_ms,
    logits_of,
    rank_correlation,
    top_overlap,
)
from app.errors import UnsupportedMethod
from app.explain import explain
from app.params import Progress
from app.results import result_type
from app.stats import wilson_interval
from app.zoo import LoadedModel
from app.zoo.fast import export_onnx

__all__ = [
    "DriftReference",
    "VariantReport",
    "drift_reference",
    "measure",
    "original_variant",
    "timed",
]


@result_type
@dataclass(frozen=True)
class VariantReport:
    name: str
    recipe: str
    params: dict[str, Any]
    engine: str
    artifact_format: str
    size_bytes: int
    parameters: int
    nonzero_parameters: int
    latency_ms: dict[str, float]  # "batch1", "batch8": median milliseconds per forward pass
    top1_agreement: float
    top1_agreement_interval: list[float]  # Wilson 95 % interval over the evaluation images
    kl_divergence: float
    accuracy: float | None
    accuracy_interval: list[float] | None  # Wilson 95 % interval (with labels)
    explanation_drift: dict[str, float]  # method -> mean rank correlation with the original
    explanation_overlap: dict[str, float]  # method -> mean top-10 % overlap
    image_drift: dict[str, float]  # method -> rank correlation on the current image
    drift_skipped: dict[str, str]  # method -> why it did not run on this variant
    gradient_note: str | None
    recovery: Recovery | None
    details: dict[str, Any]
    warnings: list[str]
    build_seconds: float
    file: str


@dataclass(frozen=True)
class DriftReference:
    """The original's maps: for each drift image (N, 3, H, W) and method, one (H, W) map of the
    class the original predicts; index 0 is the current image when there is one."""

    pixels: torch.Tensor
    targets: list[int]
    maps: dict[str, list[np.ndarray]]
    signed: dict[str, bool]
    with_image: bool


def timed(
    rows: list[VariantReport], models: list[LoadedModel], repeats: int
) -> list[VariantReport]:
    """The rows with their latency at batch 1 and 8, every model timed in turns."""
    size = models[0].input_size
    measured = latencies_ms([m.forward_logits for m in models], size, repeats)
    return [dataclasses.replace(row, latency_ms=ms) for row, ms in zip(rows, measured, strict=True)]


def original_variant(model: LoadedModel) -> CompressedModel:
    """The original as a row of the table: its float ONNX file, its own engine."""
    network = editable_copy(model)
    total, nonzero = count_parameters(weights_of(network))
    try:
        artifact, artifact_format = export_onnx(network, model.input_size), "onnx"
    except Exception:  # an architecture ONNX cannot express: ship the weights instead
        artifact, artifact_format = safetensors_bytes(network), "safetensors"
    return CompressedModel(
        recipe="original",
        params={},
        model=model,
        engine=model.engine,
        artifact=artifact,
        artifact_format=artifact_format,
        parameters=total,
        nonzero_parameters=nonzero,
    )


def _map(
    model: LoadedModel, pixels: torch.Tensor, method: str, target: int
) -> tuple[np.ndarray, bool]:
    """(map, signed) of `method` for class `target`, with the method's default parameters."""
    result = explain(model, pixels, method, target)
    return result.attribution, result.signed


def drift_reference(
    model: LoadedModel,
    pixels: torch.Tensor,
    methods: list[str],
    with_image: bool,
    progress: Progress,
) -> DriftReference:
    # drift_images=0 (and no current image): nothing to explain, no forward pass on nothing
    logits = logits_of(model.forward_logits, pixels) if len(pixels) else torch.empty(0, 1)
    targets = [int(t) for t in logits.argmax(-1)]
    maps: dict[str, list[np.ndarray]] = {method: [] for method in methods}
    signed: dict[str, bool] = {}
    total = len(methods) * len(pixels)
    for m, method in enumerate(methods):
        for index, target in enumerate(targets):
            attribution, signed[method] = _map(model, pixels[index], method, target)
            maps[method].append(attribution)
            progress(m * len(pixels) + index + 1, total)
    return DriftReference(pixels, targets, maps, signed, with_image)


def measure(
    variant: CompressedModel,
    name: str,
    file: str,
    reference_logits: torch.Tensor,
    evaluation: torch.Tensor,
    labels: list[int] | None,
    reference: DriftReference,
    build_seconds: float,
    progress: Progress,
) -> tuple[VariantReport, dict[str, np.ndarray]]:
    """The variant's row, and its maps of the current image (method -> map; empty without one)."""
    model = variant.model
    count = len(reference.targets)
    steps = 2 + len(reference.maps) * count
    logits = logits_of(model.forward_logits, evaluation)
    progress(2, steps)
    drift: dict[str, float] = {}
    overlap: dict[str, float] = {}
    image_drift: dict[str, float] = {}
    skipped: dict[str, str] = {}
    image_maps: dict[str, np.ndarray] = {}
    for m, method in enumerate(reference.maps):
        correlations, overlaps = [], []
        try:
            for index, target in enumerate(reference.targets):
                attribution, _ = _map(model, reference.pixels[index], method, target)
                original = reference.maps[method][index]
                correlations.append(rank_correlation(original, attribution))
                overlaps.append(top_overlap(original, attribution))
                if index == 0 and reference.with_image:
                    image_maps[method] = attribution
                    image_drift[method] = correlations[-1]
                progress(2 + m * count + index + 1, steps)
        except UnsupportedMethod as error:
            skipped[method] = str(error)
            continue
        if correlations:
            drift[method] = statistics.fmean(correlations)
            overlap[method] = statistics.fmean(overlaps)
    total = len(logits)
    agreeing = int((reference_logits.argmax(-1) == logits.argmax(-1)).sum())
    accuracy, accuracy_interval = None, None
    if labels is not None:
        correct = int((logits.argmax(-1) == torch.tensor(labels)).sum())
        accuracy, accuracy_interval = correct / total, list(wilson_interval(correct, total))
    report = VariantReport(
        name=name,
        recipe=variant.recipe,
        params=variant.params,
        engine=variant.engine,
        artifact_format=variant.artifact_format,
        size_bytes=len(variant.artifact),
        parameters=variant.parameters,
        nonzero_parameters=variant.nonzero_parameters,
        latency_ms={},  # measured for all rows together: see `timed`
        top1_agreement=agreement(reference_logits, logits),
        top1_agreement_interval=list(wilson_interval(agreeing, total)),
        kl_divergence=kl_divergence(reference_logits, logits),
        accuracy=accuracy,
        accuracy_interval=accuracy_interval,
        explanation_drift=drift,
        explanation_overlap=overlap,
        image_drift=image_drift,
        drift_skipped=skipped,
        gradient_note=variant.gradient_note,
        recovery=variant.recovery,
        details=variant.details,
        warnings=list(variant.warnings),
        build_seconds=build_seconds,
        file=file,
    )
    progress(steps, steps)
    return report, image_maps
