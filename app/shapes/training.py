"""Training on Shapes: transfer learning (head only, last blocks, or from scratch) and knowledge
distillation, with the lecture's options — LR warm-up, label smoothing, input noise — each of
which can be switched on alone.

Head-only training treats the frozen network as a feature extractor: its pooled features are
computed once (without input noise) and a linear layer is trained on them, which is the same
model and gradient as running the frozen backbone every step, for a fraction of the time.
"""

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from app.imaging.preprocessing import Normalize, Preprocessing
from app.params import Params, Progress

__all__ = [
    "DistillParams",
    "LearningCurves",
    "SoftLoss",
    "TrainParams",
    "TrainResult",
    "Trainable",
    "accuracy",
    "distillation_loss",
    "temperature_at",
    "train",
]

Trainable = Literal["head", "last_blocks", "all"]
SoftLoss = Literal["kl", "logits"]  # the teacher's term of the distillation loss
_IMAGENET = Preprocessing(resize=1, crop=1, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))


class TrainParams(Params):
    epochs: int = Field(6, ge=1, le=200, description="Passes over the training images")
    batch_size: int = Field(32, ge=1, le=512)
    learning_rate: float = Field(3e-3, gt=0, le=1.0, description="Peak learning rate (AdamW)")
    warmup_epochs: float = Field(
        0.0, ge=0, le=50, description="Linear LR warm-up from 0, then cosine decay"
    )
    label_smoothing: float = Field(0.0, ge=0, lt=1, description="Target mass spread over classes")
    input_noise: float = Field(
        0.0, ge=0, le=1, description="Std of Gaussian noise added to training pixels"
    )
    weight_decay: float = Field(1e-4, ge=0, le=1)
    seed: int = Field(0, ge=0)


class DistillParams(TrainParams):
    alpha: float = Field(
        0.1, ge=0, le=1, description="Weight of the label loss; 1 − alpha goes to the teacher's"
    )
    temperature: float = Field(2.0, gt=0, le=100, description="Softmax temperature (at the end)")
    start_temperature: float | None = Field(
        None, gt=0, le=100, description="Start this high and decrease linearly (None: constant)"
    )
    soft_loss: SoftLoss = Field(
        "kl",
        description="Teacher's term: kl (T²·KL of the softened outputs, Hinton) or logits "
        "(‖z_T − z_S‖², the lecture's logit matching; no temperature)",
    )


@dataclass
class LearningCurves:
    """Per epoch: mean training loss, training and validation accuracy."""

    train_loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    validation_accuracy: list[float] = field(default_factory=list)


@dataclass
class TrainResult:
    network: nn.Module  # in eval mode, on the CPU
    curves: LearningCurves
    validation_accuracy: float
    seconds: float
    parameters: int
    trainable_parameters: int


def temperature_at(params: DistillParams, epoch: int) -> float:
    """The temperature of `epoch` (0-based): constant, or linear from start to the end value."""
    if params.start_temperature is None or params.epochs == 1:
        return params.temperature
    share = epoch / (params.epochs - 1)
    return params.start_temperature + share * (params.temperature - params.start_temperature)


def distillation_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    labels: torch.Tensor,
    alpha: float,
    temperature: float,
    label_smoothing: float = 0.0,
    soft_loss: SoftLoss = "kl",
) -> torch.Tensor:
    """kl: α·CE(student, labels) + (1 − α)·T²·KL(softmax(teacher/T) ‖ softmax(student/T))
    (Hinton et al. 2015; T² keeps the soft term's gradients on the scale of the hard one).
    logits: α·CE + (1 − α)·‖z_T − z_S‖² (squared distance of the logit vectors, mean over the
    batch; the high-temperature limit of the kl form, up to scale; T is not used).

    A label < 0 marks a transfer-set image (no label): it counts in the teacher's term only; CE
    is the mean over the labelled rows (0 when the batch has none)."""
    labelled = labels >= 0
    if bool(labelled.all()):
        hard = F.cross_entropy(student_logits, labels, label_smoothing=label_smoothing)
    elif bool(labelled.any()):
        hard = F.cross_entropy(
            student_logits[labelled], labels[labelled], label_smoothing=label_smoothing
        )
    else:
        hard = student_logits.new_zeros(())
    if soft_loss == "logits":
        soft = (teacher_logits - student_logits).pow(2).sum(dim=-1).mean()
    else:
        soft = temperature**2 * F.kl_div(
            F.log_softmax(student_logits / temperature, dim=-1),
            F.log_softmax(teacher_logits / temperature, dim=-1),
            reduction="batchmean",
            log_target=True,
        )
    return alpha * hard + (1 - alpha) * soft


@torch.no_grad()
def accuracy(
    network: nn.Module, pixels: torch.Tensor, labels: torch.Tensor, batch: int = 64
) -> float:
    """Top-1 accuracy of `network` (which takes normalised inputs) on pixels in [0, 1]."""
    logits = predict_logits(network, pixels, batch)
    return float((logits.argmax(dim=1) == labels).float().mean())


@torch.no_grad()
def predict_logits(network: nn.Module, pixels: torch.Tensor, batch: int = 64) -> torch.Tensor:
    was_training = network.training
    network.eval()
    normalize = Normalize(_IMAGENET)
    try:
        return torch.cat(
            [network(normalize(pixels[i : i + batch])) for i in range(0, len(pixels), batch)]
        )
    finally:
        network.train(was_training)


def _freeze(network: nn.Module, trainable: Trainable, last_blocks: int) -> list[nn.Parameter]:
    """Leave only what `trainable` names with gradients; returns those parameters."""
    if trainable == "all":
        return [p for p in network.parameters() if p.requires_grad_(True) is not None]
    for parameter in network.parameters():
        parameter.requires_grad_(False)
    modules: list[nn.Module] = [_head(network)]
    if trainable == "last_blocks":
        blocks = getattr(network, "_blocks", None)
        if blocks is None:
            raise ValueError("last_blocks needs an EfficientNet (its _blocks)")
        modules += [*blocks[-last_blocks:], network.get_submodule("_conv_head")]
        modules.append(network.get_submodule("_bn1"))
    chosen = [p for module in modules for p in module.parameters()]
    for parameter in chosen:
        parameter.requires_grad_(True)
    return chosen


def _head(network: nn.Module) -> nn.Linear:
    linears = [m for m in network.modules() if isinstance(m, nn.Linear)]
    return linears[-1]


def _frozen_in_eval(network: nn.Module) -> None:
    """Train mode, except modules with no trainable parameter: frozen BatchNorm keeps its
    ImageNet statistics (and dropout of a frozen extractor stays off)."""
    network.train()
    for module in network.modules():
        own = list(module.parameters(recurse=False))
        if own and not any(p.requires_grad for p in own):
            module.eval()
    if not any(p.requires_grad for p in network.parameters() if p is not None):
        network.eval()


def _schedule(params: TrainParams, steps_per_epoch: int) -> Callable[[int], float]:
    total = params.epochs * steps_per_epoch
    warmup = params.warmup_epochs * steps_per_epoch

    def factor(step: int) -> float:
        if warmup and step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1.0, total - warmup)
        return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))

    return factor


def train(
    network: nn.Module,
    train_set: tuple[torch.Tensor, torch.Tensor],
    validation_set: tuple[torch.Tensor, torch.Tensor],
    params: TrainParams,
    trainable: Trainable = "all",
    last_blocks: int = 2,
    teacher_logits: torch.Tensor | None = None,
    progress: Progress | None = None,
) -> TrainResult:
    """Train a copy of `network` (inputs: pixels in [0, 1], ImageNet-normalised inside) and
    return it with its curves. With `teacher_logits` (one row per training image) and
    DistillParams, the loss is `distillation_loss` (labels < 0: transfer-set images, which
    only the teacher labels); otherwise cross-entropy."""
    started = time.perf_counter()
    torch.manual_seed(params.seed)
    network = copy.deepcopy(network).cpu()
    chosen = _freeze(network, trainable, last_blocks)
    pixels, labels = train_set
    normalize = Normalize(_IMAGENET)
    head_only = trainable == "head" and params.input_noise == 0 and teacher_logits is None
    features = _features(network, normalize(pixels)) if head_only else None
    validation_features = _features(network, normalize(validation_set[0])) if head_only else None
    optimizer = torch.optim.AdamW(chosen, lr=params.learning_rate, weight_decay=params.weight_decay)
    steps = math.ceil(len(pixels) / params.batch_size)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _schedule(params, steps))
    generator = torch.Generator().manual_seed(params.seed)
    curves = LearningCurves()
    for epoch in range(params.epochs):
        order = torch.randperm(len(pixels), generator=generator)
        _frozen_in_eval(network)
        total_loss, correct = 0.0, 0
        for step in range(steps):
            index = order[step * params.batch_size : (step + 1) * params.batch_size]
            if features is not None:
                logits = _head(network)(features[index])
            else:
                batch = pixels[index]
                if params.input_noise:
                    noise = torch.randn(batch.shape, generator=generator) * params.input_noise
                    batch = (batch + noise).clamp(0, 1)
                logits = network(normalize(batch))
            if teacher_logits is not None and isinstance(params, DistillParams):
                loss = distillation_loss(
                    logits,
                    teacher_logits[index],
                    labels[index],
                    params.alpha,
                    temperature_at(params, epoch),
                    params.label_smoothing,
                    params.soft_loss,
                )
            else:
                loss = F.cross_entropy(
                    logits, labels[index], label_smoothing=params.label_smoothing
                )
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            total_loss += float(loss.detach()) * len(index)
            correct += int((logits.argmax(dim=1) == labels[index]).sum())
            if progress is not None:
                progress(epoch * steps + step + 1, params.epochs * steps)
        curves.train_loss.append(total_loss / len(pixels))
        curves.train_accuracy.append(correct / max(1, int((labels >= 0).sum())))
        if validation_features is not None:
            with torch.no_grad():
                guess = _head(network)(validation_features).argmax(dim=1)
            curves.validation_accuracy.append(float((guess == validation_set[1]).float().mean()))
        else:
            curves.validation_accuracy.append(accuracy(network, *validation_set))
    network.eval()
    for parameter in network.parameters():
        parameter.requires_grad_(False)
    return TrainResult(
        network=network,
        curves=curves,
        validation_accuracy=curves.validation_accuracy[-1],
        seconds=time.perf_counter() - started,
        parameters=sum(p.numel() for p in network.parameters()),
        trainable_parameters=sum(p.numel() for p in chosen),
    )


@torch.no_grad()
def _features(network: nn.Module, inputs: torch.Tensor, batch: int = 64) -> torch.Tensor:
    """What the last Linear layer receives, for every input (the frozen extractor's output)."""
    head = _head(network)
    captured: list[torch.Tensor] = []
    handle = head.register_forward_hook(lambda module, args, output: captured.append(args[0]))
    was_training = network.training
    network.eval()
    try:
        for start in range(0, len(inputs), batch):
            network(inputs[start : start + batch])
    finally:
        handle.remove()
        network.train(was_training)
    return torch.cat(captured)
