"""Distillation that pays: the same small student, over several training seeds, trained (a) from
the labels of the labelled set alone, (b) distilled from the teacher on that same set (the
`distill` experiment's comparison), and (c) distilled with a transfer set besides: images the
teacher labels and a labels-only student cannot use (app/shapes/transfer_set.py). Equal student
size, epochs and options in all three; (c) sees more images per epoch, which is the point of a
transfer set (Hinton et al. 2015). So that the gain is not just (c)'s extra gradient steps, a
fourth student learns from labels alone for as many steps as (c) (more epochs of the labelled
set; `same_steps_control`)."""

import math
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
    "labels_only_same_steps": "labels only, labelled set, as many steps as the transfer-set one",
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
    same_steps_control: bool = Field(
        True, description="Also labels only for as many steps as the transfer-set student"
    )


@result_type
@dataclass(frozen=True)
class DistillArm:
    name: str  # a key of _ARMS
    title: str
    images_per_epoch: int
    epochs: int
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
    gain_over_same_steps: Spread | None  # … minus labels_only_same_steps (None: not run)
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
    batches = math.ceil(len(with_transfer[0]) / params.batch_size)
    same_steps = round(params.epochs * batches / math.ceil(len(pixels) / params.batch_size))
    plan: dict[str, tuple[Split, type[TrainParams], torch.Tensor | None, int]] = {
        "labels_only": (train_set, TrainParams, None, params.epochs),
        "labels_only_same_steps": (train_set, TrainParams, None, same_steps),
        "distilled": (train_set, DistillParams, teacher_logits[: len(pixels)], params.epochs),
        "distilled_transfer": (with_transfer, DistillParams, teacher_logits, params.epochs),
    }
    if not params.same_steps_control:
        del plan["labels_only_same_steps"]
    stage = stages(progress, len(plan) * len(seeds))
    options = params.model_dump(include=set(DistillParams.model_fields) - {"seed", "epochs"})
    accuracies: dict[str, list[float]] = {name: [] for name in plan}
    seconds = dict.fromkeys(plan, 0.0)
    for index, seed in enumerate(seeds):
        torch.manual_seed(seed)  # the initial weights too are the seed's
        student = ShapesStudent(params.width)
        for arm, (name, (images, kind, targets, epochs)) in enumerate(plan.items()):
            fields = set(kind.model_fields)
            chosen = {k: v for k, v in options.items() if k in fields}
            result = train(
                student,
                images,
                validation,
                kind(**chosen, seed=seed, epochs=epochs),
                teacher_logits=targets,
                progress=stage(index * len(plan) + arm),
            )
            accuracies[name].append(accuracy(result.network, *test))
            seconds[name] += result.seconds
    arms = [
        DistillArm(
            name,
            _ARMS[name],
            len(plan[name][0][0]),
            plan[name][3],
            spread(accuracies[name]),
            seconds[name],
        )
        for name in plan
    ]

    def gain_over(control: str) -> Spread | None:
        if control not in accuracies:
            return None
        paired = zip(accuracies["distilled_transfer"], accuracies[control], strict=True)
        return spread([with_set - alone for with_set, alone in paired])

    gain = gain_over("labels_only")
    assert gain is not None  # labels_only always runs
    report = DistillTransferReport(
        params.model_dump(mode="json"),
        accuracy(teacher, *test),
        seeds,
        arms,
        gain,
        gain_over("labels_only_same_steps"),
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
