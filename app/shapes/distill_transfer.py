"""Distillation that pays: the same small student, over several training seeds, trained (a) from
the labels of the labelled set alone, (b) distilled from the teacher on that same set (the
`distill` experiment's comparison), and (c) distilled with a transfer set besides: images the
teacher labels and a labels-only student cannot use (app/shapes/transfer_set.py). Equal student
size, epochs and options in all three; (c) sees more images per epoch, which is the point of a
transfer set (Hinton et al. 2015)."""

import time
from dataclasses import dataclass

import torch
from pydantic import Field

from app.params import Progress
from app.results import result_type
from app.settings import Settings
from app.shapes import storage
from app.shapes.base import EXPERIMENTS, SIZE, Experiment, Split, SplitParams, splits, stages
from app.shapes.networks import ShapesStudent
from app.shapes.seeds import Spread, spread, training_seeds
from app.shapes.training import DistillParams, TrainParams, accuracy, predict_logits, train
from app.shapes.transfer_set import transfer_pixels
from app.zoo import LoadedModel

__all__ = [
    "DistillArm",
    "DistillTransfer",
    "DistillTransferParams",
    "DistillTransferReport",
    "distill_transfer",
]

_ARMS = {
    "labels_only": "labels only, labelled set",
    "distilled": "distilled, labelled set",
    "distilled_transfer": "distilled, labelled set + transfer set",
}


class DistillTransferParams(SplitParams, DistillParams):
    width: int = Field(24, ge=4, le=128, description="Student width (channels of its 1st layer)")
    epochs: int = Field(10, ge=1, le=500, description="Passes over each student's images")
    learning_rate: float = Field(1e-2, gt=0, le=1.0)
    transfer_images: int = Field(
        1000, ge=10, le=20_000, description="Generated images, labels dropped, for the teacher"
    )
    augmented_copies: int = Field(
        1, ge=0, le=10, description="Augmented copies of the labelled images in the transfer set"
    )
    seeds: int = Field(
        3, ge=1, le=10, description="Training seeds (seed, seed + 1, …): mean ± sd over them"
    )


@result_type
@dataclass(frozen=True)
class DistillArm:
    name: str  # a key of _ARMS
    title: str
    images_per_epoch: int
    test_accuracy: Spread  # over the seeds
    seconds: float  # training, all seeds


@result_type
@dataclass(frozen=True)
class DistillTransferReport:
    params: dict
    teacher_accuracy: float
    seeds: list[int]
    arms: list[DistillArm]
    gain: Spread  # per seed: test accuracy of distilled_transfer minus labels_only
    seconds: float


def distill_transfer(
    settings: Settings, params: DistillTransferParams, progress: Progress | None = None
) -> DistillTransferReport:
    """The three students for each seed; writes the `distill_transfer` report."""
    started = time.perf_counter()
    teacher = storage.load_trained(settings, "teacher").network
    train_set, validation, test = splits(params)
    pixels, labels = train_set
    extra = transfer_pixels(
        pixels, params.transfer_images, params.augmented_copies, SIZE, params.seed
    )
    teacher_logits = predict_logits(teacher, torch.cat([pixels, extra]))
    unlabelled = torch.full((len(extra),), -1, dtype=labels.dtype)
    with_transfer = (torch.cat([pixels, extra]), torch.cat([labels, unlabelled]))
    seeds = training_seeds(params.seed, params.seeds)
    stage = stages(progress, len(_ARMS) * len(seeds))
    options = params.model_dump(include=set(DistillParams.model_fields) - {"seed"})
    accuracies: dict[str, list[float]] = {name: [] for name in _ARMS}
    seconds = dict.fromkeys(_ARMS, 0.0)
    for index, seed in enumerate(seeds):
        student = ShapesStudent(params.width)
        runs: dict[str, tuple[Split, type[TrainParams], torch.Tensor | None]] = {
            "labels_only": (train_set, TrainParams, None),
            "distilled": (train_set, DistillParams, teacher_logits[: len(pixels)]),
            "distilled_transfer": (with_transfer, DistillParams, teacher_logits),
        }
        for arm, (name, (images, kind, targets)) in enumerate(runs.items()):
            fields = set(kind.model_fields)
            run_params = kind(**{k: v for k, v in options.items() if k in fields}, seed=seed)
            result = train(
                student,
                images,
                validation,
                run_params,
                teacher_logits=targets,
                progress=stage(index * len(_ARMS) + arm),
            )
            accuracies[name].append(accuracy(result.network, *test))
            seconds[name] += result.seconds
    sizes = {"labels_only": len(pixels), "distilled": len(pixels)}
    arms = [
        DistillArm(
            name,
            title,
            sizes.get(name, len(with_transfer[0])),
            spread(accuracies[name]),
            seconds[name],
        )
        for name, title in _ARMS.items()
    ]
    gains = [
        with_set - alone
        for with_set, alone in zip(
            accuracies["distilled_transfer"], accuracies["labels_only"], strict=True
        )
    ]
    report = DistillTransferReport(
        params.model_dump(mode="json"),
        accuracy(teacher, *test),
        seeds,
        arms,
        spread(gains),
        time.perf_counter() - started,
    )
    storage.write_report(settings, "distill_transfer", report)
    return report


@EXPERIMENTS.register
class DistillTransfer(Experiment):
    name = "distill_transfer"
    title = "Distillation with a transfer set"
    description = (
        "the same student from labels, distilled on the labelled set, and distilled with "
        "unlabelled and augmented images the teacher labels, over several seeds"
    )
    Params = DistillTransferParams
    needs = ("teacher",)

    def run(
        self,
        settings: Settings,
        params: DistillTransferParams,
        model: LoadedModel,
        progress: Progress | None = None,
    ) -> DistillTransferReport:
        return distill_transfer(settings, params, progress)
