"""Transfer learning: the default model fine-tuned on Shapes (head only on the frozen extractor,
the last blocks, every layer) against the same network from scratch, on the same images. The best
pretrained run (by validation accuracy) is kept as the lab's teacher (`shapes/teacher`)."""

import time
from dataclasses import dataclass
from typing import Literal

from pydantic import Field

from app.params import Progress
from app.results import result_type
from app.settings import Settings
from app.shapes import storage
from app.shapes.base import EXPERIMENTS, Experiment, SplitParams, splits, stages
from app.shapes.networks import Start, teacher_network
from app.shapes.training import LearningCurves, Trainable, TrainParams, accuracy, train
from app.zoo import LoadedModel

__all__ = ["RunReport", "Transfer", "TransferParams", "TransferReport", "transfer"]

Mode = Literal["head", "last_blocks", "finetune", "scratch"]
_TRAINABLE: dict[str, tuple[Trainable, Start]] = {
    "head": ("head", "pretrained"),
    "last_blocks": ("last_blocks", "pretrained"),
    "finetune": ("all", "pretrained"),
    "scratch": ("all", "scratch"),
}


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


def transfer(
    settings: Settings, params: TransferParams, progress: Progress | None = None
) -> TransferReport:
    """Each of `params.modes` trained and tested; writes `teacher` and the `transfer` report."""
    started = time.perf_counter()
    train_set, validation, test = splits(params, params.cue)
    stage = stages(progress, len(params.modes))
    runs, kept = [], {}
    for index, mode in enumerate(params.modes):
        trainable, start = _TRAINABLE[mode]
        epochs = params.head_epochs if mode == "head" else params.epochs
        learning_rate = max(params.learning_rate, 1e-2) if mode == "head" else params.learning_rate
        options = params.model_dump(include=set(TrainParams.model_fields))
        run_params = TrainParams(**{**options, "epochs": epochs, "learning_rate": learning_rate})
        result = train(
            teacher_network(settings, start),
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
        storage.save_model(settings, "teacher", kept[best.mode])
    report = TransferReport(
        params.model_dump(mode="json"), runs, best.mode, time.perf_counter() - started
    )
    storage.write_report(settings, "transfer", report)
    return report


@EXPERIMENTS.register
class Transfer(Experiment):
    name = "transfer"
    title = "Transfer learning"
    description = "fine-tune the default model on Shapes (head, last blocks, all) vs from scratch"
    Params = TransferParams
    makes = ("teacher",)

    def run(
        self,
        settings: Settings,
        params: TransferParams,
        model: LoadedModel,
        progress: Progress | None = None,
    ) -> TransferReport:
        return transfer(settings, params, progress)
