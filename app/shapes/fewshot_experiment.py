"""Few-shot on Shapes: k-nearest neighbours (app/shapes/fewshot.py) on the default model's
pretrained features, from `shots` examples per class, scored on a test split."""

import time
from dataclasses import dataclass

from pydantic import Field

from app.params import Params, Progress
from app.results import result_type
from app.settings import Settings
from app.shapes import storage
from app.shapes.base import EXPERIMENTS, TEST_OFFSET, Experiment
from app.shapes.dataset import SHAPES, ShapesDataset
from app.shapes.fewshot import FewShotClassifier
from app.zoo import LoadedModel

__all__ = ["FewShot", "FewShotParams", "FewShotReport", "fewshot"]


class FewShotParams(Params):
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


def fewshot(
    settings: Settings, model: LoadedModel, params: FewShotParams, progress: Progress | None = None
) -> FewShotReport:
    """`shots` Shapes examples per class, k-NN on `model`'s features, accuracy on a test split;
    writes the `fewshot` report."""
    started = time.perf_counter()
    examples = ShapesDataset(params.shots * len(SHAPES), params.size, params.seed, "random", 0)
    pixels, labels = examples.tensors()
    classifier = FewShotClassifier(model, pixels, [SHAPES[int(y)] for y in labels], params.k)
    test_pixels, test_labels = ShapesDataset(
        params.test_images, params.size, params.seed, "random", TEST_OFFSET
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
    storage.write_report(settings, "fewshot", report)
    return report


@EXPERIMENTS.register
class FewShot(Experiment):
    name = "fewshot"
    title = "Few-shot"
    description = "k-nearest neighbours on pretrained features from a few examples per class"
    Params = FewShotParams

    def run(
        self,
        settings: Settings,
        params: FewShotParams,
        model: LoadedModel,
        progress: Progress | None = None,
    ) -> FewShotReport:
        return fewshot(settings, model, params, progress)
