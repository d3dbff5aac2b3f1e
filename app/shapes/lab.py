"""The Shapes lab's experiments, as plain functions: each takes its parameters and a progress
callback, writes its models and a JSON report under `data_dir/shapes/`, and returns a report.

- `transfer`: the default model fine-tuned on Shapes (head only on the frozen extractor, the
  last blocks, every layer) against the same network from scratch; the best pretrained run is
  kept as the teacher (`shapes/teacher`).
- `distill`: a small student trained from the teacher's soft targets and from labels alone.
- `evaluate`: the pointing game and the mass inside the mask for each method, on each trained
  model, and which cue each follows on the cue-conflict split.
- `fewshot`: k-nearest neighbours on the pretrained features, from 1–5 examples per class.

Splits are disjoint index ranges of the generator (train from 0, validation from 100 000, test
from 200 000), so no image is in two splits.
"""

import json
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field, field_validator
from safetensors.torch import save_file
from torch import nn

from app.errors import BadParameter, UnknownExperiment
from app.explain import METHODS
from app.params import Progress
from app.registry import Registry
from app.results import result_type
from app.settings import Settings
from app.shapes.dataset import SHAPES, Cue, ShapesDataset
from app.shapes.fewshot import FewShotClassifier
from app.shapes.ground_truth import CueConflict, MethodScore, cue_conflict, score_methods
from app.shapes.networks import ShapesStudent, as_loaded, count_parameters, teacher_network
from app.shapes.training import (
    DistillParams,
    LearningCurves,
    Trainable,
    TrainParams,
    accuracy,
    predict_logits,
    train,
)
from app.zoo import LoadedModel
from app.zoo.weights import apply_state_dict, load_state_dict

__all__ = [
    "EXPERIMENTS",
    "SIZE",
    "DistillLabParams",
    "DistillReport",
    "EvaluateParams",
    "EvaluateReport",
    "Experiment",
    "FewShotParams",
    "FewShotReport",
    "TransferParams",
    "TransferReport",
    "distill",
    "evaluate",
    "fewshot",
    "load_trained",
    "transfer",
]

SIZE = 64  # pixels; the lab's models are trained and explained at this size
_VALIDATION, _TEST = 100_000, 200_000
Mode = Literal["head", "last_blocks", "finetune", "scratch"]
_TRAINABLE: dict[str, tuple[Trainable, str]] = {
    "head": ("head", "pretrained"),
    "last_blocks": ("last_blocks", "pretrained"),
    "finetune": ("all", "pretrained"),
    "scratch": ("all", "scratch"),
}


class SplitParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    train_images: int = Field(1000, ge=10, le=20_000, description="Training images")
    test_images: int = Field(200, ge=10, le=5_000, description="Validation and test images, each")
    seed: int = Field(0, ge=0, description="Dataset seed")


class TransferParams(SplitParams, TrainParams):
    modes: list[Mode] = Field(
        default=["head", "last_blocks", "finetune", "scratch"],
        min_length=1,
        description="Runs to compare (same images, epochs and options)",
    )
    cue: Literal["random", "aligned"] = Field(
        "random", description="aligned: class k always on texture k (for the cue-conflict test)"
    )
    head_epochs: int = Field(30, ge=1, le=500, description="Epochs of the head-only run (cheap)")
    last_blocks: int = Field(4, ge=1, le=16, description="Blocks unfrozen by last_blocks")
    epochs: int = Field(6, ge=1, le=200)
    learning_rate: float = Field(2e-3, gt=0, le=1.0)
    warmup_epochs: float = Field(0.5, ge=0, le=50)


@result_type
@dataclass(frozen=True)
class RunReport:
    mode: str
    curves: LearningCurves
    validation_accuracy: float
    test_accuracy: float
    seconds: float
    parameters: int
    trainable_parameters: int


@result_type
@dataclass(frozen=True)
class TransferReport:
    params: dict
    runs: list[RunReport]
    teacher: str  # the mode kept as shapes/teacher
    seconds: float


class DistillLabParams(SplitParams, DistillParams):
    width: int = Field(24, ge=4, le=128, description="Student width (channels of its 1st layer)")
    epochs: int = Field(40, ge=1, le=500)
    learning_rate: float = Field(1e-2, gt=0, le=1.0)


@result_type
@dataclass(frozen=True)
class ModelFacts:
    name: str
    test_accuracy: float
    parameters: int
    size_bytes: int
    latency_ms: float  # batch 1, median of 20 runs


@result_type
@dataclass(frozen=True)
class DistillReport:
    params: dict
    teacher: ModelFacts
    distilled: ModelFacts
    from_labels: ModelFacts
    distilled_curves: LearningCurves
    from_labels_curves: LearningCurves
    seconds: float


class EvaluateParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    methods: list[str] = Field(
        default=["occlusion", "saliency", "guided_backprop", "grad_cam"],
        min_length=1,
        json_schema_extra=lambda schema: schema.update(  # the page offers every method
            items={"type": "string", "enum": list[Any](METHODS.names())}
        ),
    )
    images: int = Field(40, ge=1, le=2000, description="Test images per method")
    seed: int = Field(0, ge=0)

    @field_validator("methods")
    @classmethod
    def _known_methods(cls, value: list[str]) -> list[str]:
        for name in value:
            METHODS.get(name)  # UnknownMethod (404) names the choices
        return value


@result_type
@dataclass(frozen=True)
class ModelScores:
    model: str
    methods: list[MethodScore]
    cue_conflict: CueConflict


@result_type
@dataclass(frozen=True)
class EvaluateReport:
    params: dict
    models: list[ModelScores]
    seconds: float


class FewShotParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    shots: int = Field(5, ge=1, le=50, description="Examples per class")
    size: int = Field(
        224,
        ge=32,
        le=512,
        description="Image size; pretrained features need about their training size (224)",
    )
    k: int = Field(1, ge=1, le=50, description="Neighbours that vote")
    test_images: int = Field(200, ge=10, le=5000)
    seed: int = Field(0, ge=0)


@result_type
@dataclass(frozen=True)
class FewShotReport:
    params: dict
    model: str
    test_accuracy: float
    seconds: float


def _folder(settings: Settings) -> Path:
    folder = settings.data_dir / "shapes"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _write_report(settings: Settings, name: str, report: object) -> None:
    (_folder(settings) / f"{name}.json").write_text(json.dumps(asdict(report), indent=1))  # type: ignore[call-overload]


Split = tuple[torch.Tensor, torch.Tensor]


def _splits(params: SplitParams, cue: Cue = "random") -> tuple[Split, Split, Split]:
    train_set = ShapesDataset(params.train_images, SIZE, params.seed, cue, 0).tensors()
    validation = ShapesDataset(params.test_images, SIZE, params.seed, cue, _VALIDATION).tensors()
    test = ShapesDataset(params.test_images, SIZE, params.seed, "random", _TEST).tensors()
    return train_set, validation, test


def _save(settings: Settings, name: str, network: nn.Module) -> Path:
    path = _folder(settings) / f"{name}.safetensors"
    save_file({k: v.contiguous() for k, v in network.state_dict().items()}, str(path))
    return path


def _stages(progress: Progress | None, count: int) -> Callable[[int], Progress | None]:
    """A progress callback for each of `count` equal stages of one job."""

    def stage(index: int) -> Progress | None:
        if progress is None:
            return None
        return lambda done, total: progress(index * total + done, count * total)

    return stage


def transfer(
    settings: Settings, params: TransferParams, progress: Progress | None = None
) -> TransferReport:
    started = time.perf_counter()
    train_set, validation, test = _splits(params, params.cue)
    stage = _stages(progress, len(params.modes))
    runs, kept = [], {}
    for index, mode in enumerate(params.modes):
        trainable, start = _TRAINABLE[mode]
        epochs = params.head_epochs if mode == "head" else params.epochs
        learning_rate = max(params.learning_rate, 1e-2) if mode == "head" else params.learning_rate
        options = params.model_dump(include=set(TrainParams.model_fields))
        run_params = TrainParams(**{**options, "epochs": epochs, "learning_rate": learning_rate})
        network = teacher_network(settings, start)  # type: ignore[arg-type]
        result = train(
            network,
            train_set,
            validation,
            run_params,
            trainable,
            params.last_blocks,
            progress=stage(index),
        )
        runs.append(
            RunReport(
                mode,
                result.curves,
                result.validation_accuracy,
                accuracy(result.network, *test),
                result.seconds,
                result.parameters,
                result.trainable_parameters,
            )
        )
        if start == "pretrained":
            kept[mode] = result.network
    pretrained = [run for run in runs if run.mode in kept] or runs
    best = max(pretrained, key=lambda run: run.validation_accuracy)
    if best.mode in kept:
        _save(settings, "teacher", kept[best.mode])
    report = TransferReport(
        params.model_dump(mode="json"), runs, best.mode, time.perf_counter() - started
    )
    _write_report(settings, "transfer", report)
    return report


def load_trained(settings: Settings, name: Literal["teacher", "student"]) -> LoadedModel:
    """The lab's trained teacher or student as a LoadedModel (explain() accepts it)."""
    path = settings.data_dir / "shapes" / f"{name}.safetensors"
    if not path.is_file():
        step = (
            "train one (lantern shapes train)"
            if name == "teacher"
            else "run lantern shapes distill"
        )
        raise BadParameter(f"there is no Shapes {name} yet: {step}")
    state = load_state_dict(path, settings.max_weights_bytes)
    if name == "teacher":
        network: nn.Module = teacher_network(settings, "scratch")
    else:
        width = int(state["features.0.weight"].shape[0])
        network = ShapesStudent(width)
    apply_state_dict(network, state, path.name)
    return as_loaded(network.eval(), f"shapes/{name}", SIZE, settings.torch_device())


def _latency_ms(network: nn.Module) -> float:
    probe = torch.rand(1, 3, SIZE, SIZE)
    times = []
    with torch.no_grad():
        network(probe)
        for _ in range(20):
            started = time.perf_counter()
            network(probe)
            times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def _facts(settings: Settings, name: str, network: nn.Module, test: Split) -> ModelFacts:
    path = (
        _save(settings, name, network)
        if name != "teacher"
        else _folder(settings) / "teacher.safetensors"
    )
    return ModelFacts(
        name,
        accuracy(network, *test),
        count_parameters(network),
        path.stat().st_size,
        _latency_ms(network.eval()),
    )


def distill(
    settings: Settings, params: DistillLabParams, progress: Progress | None = None
) -> DistillReport:
    started = time.perf_counter()
    teacher = load_trained(settings, "teacher")
    train_set, validation, test = _splits(params)
    teacher_logits = predict_logits(teacher.network, train_set[0])
    stage = _stages(progress, 2)
    options = params.model_dump(include=set(DistillParams.model_fields))
    student = ShapesStudent(params.width)
    distilled = train(
        student,
        train_set,
        validation,
        DistillParams(**options),
        teacher_logits=teacher_logits,
        progress=stage(0),
    )
    from_labels = train(
        student,
        train_set,
        validation,
        TrainParams(**params.model_dump(include=set(TrainParams.model_fields))),
        progress=stage(1),
    )
    _save(settings, "student", distilled.network)
    report = DistillReport(
        params.model_dump(mode="json"),
        _facts(settings, "teacher", teacher.network, test),
        _facts(settings, "student", distilled.network, test),
        _facts(settings, "student-from-labels", from_labels.network, test),
        distilled.curves,
        from_labels.curves,
        time.perf_counter() - started,
    )
    _write_report(settings, "distill", report)
    return report


def evaluate(
    settings: Settings, params: EvaluateParams, progress: Progress | None = None
) -> EvaluateReport:
    started = time.perf_counter()
    test = ShapesDataset(params.images, SIZE, params.seed, "random", _TEST)
    swapped = ShapesDataset(200, SIZE, params.seed, "swapped", _TEST)
    names: list[Literal["teacher", "student"]] = ["teacher"]
    if (settings.data_dir / "shapes" / "student.safetensors").is_file():
        names.append("student")
    stage = _stages(progress, len(names))
    models = []
    for index, name in enumerate(names):
        model = load_trained(settings, name)
        scores = score_methods(model, test, params.methods, params.images, progress=stage(index))
        models.append(ModelScores(model.name, scores, cue_conflict(model, swapped)))
    report = EvaluateReport(params.model_dump(mode="json"), models, time.perf_counter() - started)
    _write_report(settings, "evaluate", report)
    return report


def fewshot(
    settings: Settings, model: LoadedModel, params: FewShotParams, progress: Progress | None = None
) -> FewShotReport:
    """`shots` Shapes examples per class, k-NN on `model`'s features, accuracy on a test split."""
    started = time.perf_counter()
    examples = ShapesDataset(params.shots * len(SHAPES), params.size, params.seed, "random", 0)
    pixels, labels = examples.tensors()
    classifier = FewShotClassifier(model, pixels, [SHAPES[int(y)] for y in labels], params.k)
    test_pixels, test_labels = ShapesDataset(
        params.test_images, params.size, params.seed, "random", _TEST
    ).tensors()
    predictions = classifier.predict(test_pixels)
    if progress is not None:
        progress(1, 1)
    hits = [p.label == SHAPES[int(y)] for p, y in zip(predictions, test_labels, strict=True)]
    report = FewShotReport(
        params.model_dump(mode="json"),
        model.name,
        sum(hits) / len(hits),
        time.perf_counter() - started,
    )
    _write_report(settings, "fewshot", report)
    return report


@dataclass(frozen=True)
class Experiment:
    """One experiment of the lab: its parameters and `run(settings, params, model, progress)`
    (`model`: the server's default model, whose features few-shot uses)."""

    name: str
    title: str
    Params: type[BaseModel]
    run: Callable[[Settings, Any, LoadedModel, Progress | None], Any]
    needs: tuple[str, ...] = ()  # trained models it reads (their files are part of its cache key)


EXPERIMENTS: Registry[Experiment] = Registry("experiment", UnknownExperiment)
for _experiment in (
    Experiment(
        "transfer",
        "Transfer learning",
        TransferParams,
        lambda settings, params, model, progress: transfer(settings, params, progress),
    ),
    Experiment(
        "distill",
        "Distillation",
        DistillLabParams,
        lambda settings, params, model, progress: distill(settings, params, progress),
        needs=("teacher",),
    ),
    Experiment(
        "evaluate",
        "Ground truth",
        EvaluateParams,
        lambda settings, params, model, progress: evaluate(settings, params, progress),
        needs=("teacher", "student"),
    ),
    Experiment(
        "fewshot",
        "Few-shot",
        FewShotParams,
        lambda settings, params, model, progress: fewshot(settings, model, params, progress),
    ),
):
    EXPERIMENTS.add(_experiment.name, _experiment)


def trained_fingerprint(settings: Settings, names: tuple[str, ...]) -> dict[str, float | None]:
    """When each trained model was written (None: not yet): a retrained teacher is a new input."""
    folder = settings.data_dir / "shapes"
    return {
        name: (folder / f"{name}.safetensors").stat().st_mtime
        if (folder / f"{name}.safetensors").is_file()
        else None
        for name in names
    }


def saved_reports(settings: Settings) -> dict[str, Any]:
    """The last report of each experiment, as written to data_dir/shapes/NAME.json."""
    reports: dict[str, Any] = {}
    for name in EXPERIMENTS.names():
        path = settings.data_dir / "shapes" / f"{name}.json"
        reports[name] = json.loads(path.read_text()) if path.is_file() else None
    return reports
