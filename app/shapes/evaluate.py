"""Explanations against ground truth: the pointing game and the mass inside the shape's mask for
each method, on each trained model, and which cue (shape or texture) each model follows on
cue-conflict images (app/shapes/ground_truth.py)."""

import time
from dataclasses import dataclass
from typing import Any

from pydantic import Field

from app.explain import METHODS, MethodNames
from app.params import Params, Progress
from app.results import result_type
from app.settings import Settings
from app.shapes import storage
from app.shapes.base import EXPERIMENTS, SIZE, TEST_OFFSET, Experiment, stages
from app.shapes.dataset import ShapesDataset
from app.shapes.ground_truth import CueConflict, MethodScore, cue_conflict, score_methods
from app.zoo import LoadedModel

__all__ = ["Evaluate", "EvaluateParams", "EvaluateReport", "ModelScores", "evaluate"]

_CUE_CONFLICT_IMAGES = 200


class EvaluateParams(Params):
    methods: MethodNames = Field(
        default=["occlusion", "saliency", "guided_backprop", "grad_cam"],
        min_length=1,
        json_schema_extra=lambda schema: schema.update(  # the page offers every method
            items={"type": "string", "enum": list[Any](METHODS.names())}
        ),
    )
    images: int = Field(40, ge=1, le=2000, description="Test images per method")
    seed: int = Field(0, ge=0)


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


def evaluate(
    settings: Settings, params: EvaluateParams, progress: Progress | None = None
) -> EvaluateReport:
    """The teacher, and the student when there is one; writes the `evaluate` report."""
    started = time.perf_counter()
    test = ShapesDataset(params.images, SIZE, params.seed, "random", TEST_OFFSET)
    swapped = ShapesDataset(_CUE_CONFLICT_IMAGES, SIZE, params.seed, "swapped", TEST_OFFSET)
    names: list[storage.Trained] = ["teacher"]
    if storage.model_path(settings, "student").is_file():
        names.append("student")
    stage = stages(progress, len(names))
    models = []
    for index, name in enumerate(names):
        model = storage.load_trained(settings, name)
        scores = score_methods(model, test, params.methods, params.images, progress=stage(index))
        models.append(ModelScores(model.name, scores, cue_conflict(model, swapped)))
    report = EvaluateReport(params.model_dump(mode="json"), models, time.perf_counter() - started)
    storage.write_report(settings, "evaluate", report)
    return report


@EXPERIMENTS.register
class Evaluate(Experiment):
    name = "evaluate"
    title = "Ground truth"
    description = "pointing game and mass inside the mask for each method, and cue conflict"
    Params = EvaluateParams
    needs = ("teacher", "student")  # the student only when there is one

    def run(
        self,
        settings: Settings,
        params: EvaluateParams,
        model: LoadedModel,
        progress: Progress | None = None,
    ) -> EvaluateReport:
        return evaluate(settings, params, progress)
