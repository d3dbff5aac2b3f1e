"""A comparison run: build each requested variant of any loaded model, measure it against the
original on the evaluation set, and keep the report, the variants' files and the current
image's maps under `data_dir/compress/runs/<id>/`.

The default evaluation set is the model's own: the Shapes lab's labelled test split for a Shapes
model (`shapes_test_images` of them), else the gallery's photos and their augmented views."""

import dataclasses
import json
import os
import platform
import re
import shutil
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.compress.analysis import (
    ActivationHistogram,
    LayerSensitivity,
    activation_histogram,
    layer_names,
    longest_tail_layer,
    sensitivity_scan,
)
from app.compress.base import RECIPES, CompressedModel, CompressionData
from app.compress.comparison import (
    VariantReport,
    drift_reference,
    measure,
    original_variant,
    timed,
)
from app.compress.data import (
    EvaluationSet,
    build_evaluation_set,
    gallery_sources,
    shapes_evaluation_set,
)
from app.compress.measure import logits_of
from app.compress.saved import keep_variant
from app.errors import BadParameter, UnknownRun
from app.explain import MethodNames
from app.params import MAX_SEED, Progress, no_progress, parse_params
from app.results import result_type
from app.settings import Settings
from app.shapes.gallery import is_shapes_model
from app.zoo import LoadedModel

__all__ = [
    "CompressionRun",
    "RunParams",
    "VariantRequest",
    "check_run",
    "compress",
    "default_evaluation_set",
    "read_run",
    "run_comparison",
    "run_file",
    "run_map",
    "saved_runs",
]

_RUN_ID = re.compile(r"[0-9a-f]{12}")


class VariantRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    recipe: str = Field(max_length=100)
    params: dict[str, Any] = Field(default_factory=dict)

    @field_validator("recipe")
    @classmethod
    def _known_recipe(cls, value: str) -> str:
        RECIPES.get(value)  # raises UnknownRecipe with the known names
        return value


def _default_variants() -> list[VariantRequest]:
    return [
        VariantRequest(recipe="int8_static", params={"per_channel": False}),
        VariantRequest(recipe="int8_static", params={"per_channel": True}),
        VariantRequest(recipe="int8_static", params={"calibration": "percentile"}),
        VariantRequest(recipe="prune_channels", params={"ratio": 0.3, "recovery_epochs": 5}),
    ]


class RunParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    variants: list[VariantRequest] = Field(
        default_factory=_default_variants, min_length=1, max_length=12
    )
    methods: MethodNames = Field(
        default=["occlusion", "saliency", "grad_cam"],
        max_length=9,
        description="Explanation methods whose drift is measured",
    )
    drift_images: int = Field(4, ge=0, le=64, description="Evaluation photos explained for drift")
    augmentations: int = Field(7, ge=0, le=100, description="Augmented views per evaluation photo")
    calibration_augmentations: int = Field(8, ge=1, le=100, description="Calibration views each")
    latency_repeats: int = Field(10, ge=3, le=200, description="Timed runs per batch size")
    shapes_test_images: int = Field(
        400,
        ge=10,
        le=5000,
        description="A Shapes model's labelled test images (the lab's test split)",
    )
    sensitivity_sparsity: float | None = Field(
        None, ge=0.0, le=1.0, description="Scan each layer pruned alone to this sparsity"
    )
    histogram_layer: str | None = Field(
        None,
        max_length=200,
        description="Layer whose input is histogrammed; default: the one with the longest tail",
    )
    seed: int = Field(0, ge=0, le=MAX_SEED, description="Augmentation seed")


@result_type
@dataclass(frozen=True)
class EvaluationFacts:
    source: str
    images: int
    labelled: bool
    calibration_images: int
    drift_images: list[str]


@result_type
@dataclass(frozen=True)
class CompressionRun:
    id: str
    model: str
    created: str
    machine: str
    params: dict[str, Any]
    evaluation: EvaluationFacts
    rows: list[VariantReport]  # the original first
    sensitivity: list[LayerSensitivity] | None
    histogram: ActivationHistogram | None
    image_id: str | None  # whose maps are saved (GET .../maps/{row}/{method}.png)
    seconds: float


def compress(
    model: LoadedModel,
    recipe: str,
    params: dict[str, Any] | None = None,
    data: CompressionData | None = None,
    progress: Progress = no_progress,
) -> CompressedModel:
    """Build one variant of `model` (never modified) by a registered recipe."""
    chosen = RECIPES.get(recipe)
    parsed = parse_params(chosen.Params, params, recipe)
    if data is None:
        raise BadParameter("compress needs calibration and evaluation images")
    return chosen.build(model, data, parsed, progress)


def default_evaluation_set(
    model: LoadedModel, params: RunParams, progress: Progress | None = None
) -> EvaluationSet:
    """The model's own evaluation set: the Shapes test split for a Shapes model, else the
    gallery's photos with `params.augmentations` views each."""
    if is_shapes_model(model):
        return shapes_evaluation_set(model, params.shapes_test_images, params.seed, progress)
    return build_evaluation_set(
        model,
        gallery_sources(),
        "gallery",
        params.augmentations,
        params.calibration_augmentations,
        params.seed,
        progress,
    )


def _label(recipe: str, params: Any) -> str:
    """The recipe and the parameters that differ from its defaults, e.g. int8_static
    (per_channel=False)."""
    defaults = type(params)().model_dump()
    changed = {k: v for k, v in params.model_dump().items() if v != defaults[k]}
    if not changed:
        return recipe
    return f"{recipe} ({', '.join(f'{k}={v}' for k, v in changed.items())})"


def _machine() -> str:
    return (
        f"{platform.machine()}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads,"
        f" torch {torch.__version__}"
    )


def _folder(settings: Settings, run_id: str) -> Path:
    if not _RUN_ID.fullmatch(run_id):
        raise UnknownRun(f"no compression run {run_id!r}")
    return settings.data_dir / "compress" / "runs" / run_id


def check_run(model: LoadedModel, params: RunParams) -> list[tuple[VariantRequest, Any]]:
    """Each variant with its parsed parameters; raises (before any work) on a bad one."""
    if params.histogram_layer is not None and params.histogram_layer not in layer_names(model):
        raise BadParameter(
            f"{params.histogram_layer!r} is not a convolution or linear layer of {model.name}"
        )
    return [
        (request, parse_params(RECIPES.get(request.recipe).Params, request.params, request.recipe))
        for request in params.variants
    ]


def run_comparison(
    settings: Settings,
    model: LoadedModel,
    params: RunParams,
    evaluation: EvaluationSet,
    image: tuple[str, torch.Tensor] | None = None,
    progress: Progress = no_progress,
) -> CompressionRun:
    """Build and measure every requested variant; save and return the run."""
    started = time.perf_counter()
    parsed = check_run(model, params)
    run_id = uuid.uuid4().hex[:12]
    folder = _folder(settings, run_id)
    folder.mkdir(parents=True)
    try:
        run = _run(settings, model, params, parsed, evaluation, image, progress, run_id, folder)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)  # a failed or cancelled run leaves nothing
        raise
    run = dataclasses.replace(run, seconds=time.perf_counter() - started)
    (folder / "report.json").write_text(json.dumps(dataclasses.asdict(run), indent=2))
    _forget_old_runs(settings)
    progress(1, 1)
    return run


def _forget_old_runs(settings: Settings) -> None:
    """Delete all but the newest `kept_compression_runs` runs (each holds its variants' files)."""
    for summary in saved_runs(settings)[settings.kept_compression_runs :]:
        shutil.rmtree(_folder(settings, summary["id"]), ignore_errors=True)


def _run(
    settings: Settings,
    model: LoadedModel,
    params: RunParams,
    parsed: list[tuple[VariantRequest, Any]],
    evaluation: EvaluationSet,
    image: tuple[str, torch.Tensor] | None,
    progress: Progress,
    run_id: str,
    folder: Path,
) -> CompressionRun:
    stages = 2 + len(parsed) + (params.sensitivity_sparsity is not None)

    def stage(index: int, low: float = 0.0, high: float = 1.0) -> Progress:
        def report(done: int, total: int) -> None:
            fraction = low + (high - low) * done / max(1, total)
            progress(int(1000 * (index + fraction)), stages * 1000)

        return report

    data = CompressionData(calibration=evaluation.calibration, evaluation=evaluation.pixels)
    drift_indices = evaluation.originals[: params.drift_images]
    drift_pixels = evaluation.pixels[drift_indices]
    drift_names = [evaluation.names[i] for i in drift_indices]
    if image is not None:
        drift_pixels = torch.cat([image[1][None], drift_pixels])
        drift_names = [f"image {image[0]}", *drift_names]
    reference = drift_reference(model, drift_pixels, params.methods, image is not None, stage(0))
    reference_logits = logits_of(model.forward_logits, evaluation.pixels)
    rows: list[VariantReport] = []
    models: list[LoadedModel] = []
    maps: dict[str, np.ndarray] = {}
    if image is not None:
        maps["input"] = image[1].numpy()
    builds = [("original", None)] + [(_label(r.recipe, p), (r, p)) for r, p in parsed]
    for index, (name, request) in enumerate(builds):
        build_started = time.perf_counter()
        if request is None:
            variant = original_variant(model)
        else:
            recipe = RECIPES.get(request[0].recipe)
            variant = recipe.build(model, data, request[1], stage(1 + index, 0.0, 0.5))
        build_seconds = time.perf_counter() - build_started
        file = f"{index}-{variant.recipe}.{variant.artifact_format}"
        (folder / file).write_bytes(variant.artifact)
        if request is not None:  # a variant, loadable as compressed/RUN/INDEX-RECIPE
            keep_variant(folder, file.rsplit(".", 1)[0], name, model, variant)
        row, image_maps = measure(
            variant,
            name,
            file,
            reference_logits,
            evaluation.pixels,
            evaluation.labels,
            reference,
            build_seconds,
            stage(1 + index, 0.0 if request is None else 0.5),
        )
        rows.append(row)
        models.append(variant.model)
        for method, attribution in image_maps.items():
            maps[f"{index}/{method}"] = attribution
        if request is None and image is not None:
            for method in params.methods:
                maps[f"signed/{method}"] = np.array(reference.signed.get(method, False))
    rows = timed(rows, models, params.latency_repeats)
    del models  # the variants' engines: free them before the scan
    sensitivity = None
    if params.sensitivity_sparsity is not None:
        sensitivity = sensitivity_scan(
            model, evaluation.pixels[:16], params.sensitivity_sparsity, stage(stages - 1)
        )
    calibration = evaluation.calibration[:16]
    layer = params.histogram_layer or longest_tail_layer(model, calibration)
    histogram = activation_histogram(model, layer, calibration)
    run = CompressionRun(
        id=run_id,
        model=model.name,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        machine=_machine(),
        params=params.model_dump(mode="json"),
        evaluation=EvaluationFacts(
            source=evaluation.source,
            images=evaluation.size,
            labelled=evaluation.labels is not None,
            calibration_images=len(evaluation.calibration),
            drift_images=drift_names,
        ),
        rows=rows,
        sensitivity=sensitivity,
        histogram=histogram,
        image_id=None if image is None else image[0],
        seconds=0.0,  # set by run_comparison
    )
    np.savez(folder / "maps.npz", **maps)  # type: ignore[arg-type]
    return run


def saved_runs(settings: Settings) -> list[dict[str, Any]]:
    """Every saved run's summary (id, created, model, rows' names), newest first (by when its
    report was written: `created` has whole seconds)."""
    root = settings.data_dir / "compress" / "runs"
    found = []
    for report in root.glob("*/report.json") if root.is_dir() else []:
        try:
            data = json.loads(report.read_text())
            written = report.stat().st_mtime_ns
        except (OSError, ValueError):
            continue
        summary = {
            "id": data["id"],
            "created": data["created"],
            "model": data["model"],
            "variants": [row["name"] for row in data["rows"]],
        }
        found.append((written, summary))
    return [summary for _, summary in sorted(found, key=lambda item: item[0], reverse=True)]


def read_run(settings: Settings, run_id: str) -> dict[str, Any]:
    path = _folder(settings, run_id) / "report.json"
    if not path.is_file():
        raise UnknownRun(f"no compression run {run_id!r}")
    report: dict[str, Any] = json.loads(path.read_text())
    return report


def run_file(settings: Settings, run_id: str, name: str) -> Path:
    """A variant's saved file, by the name in its row."""
    report = read_run(settings, run_id)
    if name not in {row["file"] for row in report["rows"]}:
        raise UnknownRun(f"run {run_id} has no file {name!r}")
    return _folder(settings, run_id) / name


def run_map(
    settings: Settings, run_id: str, row: int, method: str
) -> tuple[np.ndarray, np.ndarray, bool]:
    """(pixels (3, H, W), map (H, W), signed) of one row's map of the run's current image."""
    path = _folder(settings, run_id) / "maps.npz"
    if not path.is_file():
        raise UnknownRun(f"no compression run {run_id!r}")
    with np.load(path, allow_pickle=False) as maps:
        key = f"{row}/{method}"
        if "input" not in maps.files or key not in maps.files:
            raise UnknownRun(f"run {run_id} has no {method} map for row {row}")
        return maps["input"], maps[key], bool(maps.get(f"signed/{method}", False))
