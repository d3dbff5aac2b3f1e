"""Knowledge distillation (Hinton et al., 2015): a small student trained from the teacher's soft
targets, and the same student from labels alone, on the same images; each compared with the
teacher on accuracy, parameters, file size and latency."""

import statistics
import time
from dataclasses import dataclass

import torch
from pydantic import Field
from torch import nn

from app.params import Progress
from app.results import result_type
from app.settings import Settings
from app.shapes import storage
from app.shapes.base import EXPERIMENTS, SIZE, Experiment, Split, SplitParams, splits, stages
from app.shapes.networks import ShapesStudent, count_parameters
from app.shapes.training import (
    DistillParams,
    LearningCurves,
    TrainParams,
    accuracy,
    predict_logits,
    train,
)
from app.zoo import LoadedModel

__all__ = ["Distill", "DistillLabParams", "DistillReport", "ModelFacts", "distill"]


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
    """Test accuracy, size and latency of a model saved under `name`."""
    return ModelFacts(
        name,
        accuracy(network, *test),
        count_parameters(network),
        storage.model_path(settings, name).stat().st_size,
        _latency_ms(network.eval()),
    )


def distill(
    settings: Settings, params: DistillLabParams, progress: Progress | None = None
) -> DistillReport:
    """Writes `student` (distilled), `student-from-labels` and the `distill` report."""
    started = time.perf_counter()
    teacher = storage.load_trained(settings, "teacher")
    train_set, validation, test = splits(params)
    teacher_logits = predict_logits(teacher.network, train_set[0])
    stage = stages(progress, 2)
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
    storage.save_model(settings, "student", distilled.network)
    storage.save_model(settings, "student-from-labels", from_labels.network)
    report = DistillReport(
        params.model_dump(mode="json"),
        _facts(settings, "teacher", teacher.network, test),
        _facts(settings, "student", distilled.network, test),
        _facts(settings, "student-from-labels", from_labels.network, test),
        distilled.curves,
        from_labels.curves,
        time.perf_counter() - started,
    )
    storage.write_report(settings, "distill", report)
    return report


@EXPERIMENTS.register
class Distill(Experiment):
    name = "distill"
    title = "Distillation"
    description = "train a small student from the teacher's soft targets, and from labels"
    Params = DistillLabParams
    needs = ("teacher",)
    makes = ("student", "student-from-labels")

    def run(
        self,
        settings: Settings,
        params: DistillLabParams,
        model: LoadedModel,
        progress: Progress | None = None,
    ) -> DistillReport:
        return distill(settings, params, progress)
