"""Recovery by distillation (Hinton et al., 2015): a short fine-tuning run that teaches the
compressed network to match the original's softened outputs on the calibration images. Used
after quantization (quantization-aware: the network trains through its fake-quantized twin)
and after pruning (the masks are re-applied after every step)."""

import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from app.compress.base import CompressionData, Recovery
from app.compress.measure import agreement, logits_of
from app.params import Params, Progress, no_progress
from app.zoo import LoadedModel

__all__ = ["RecoveryParams", "recover", "recover_scored"]


class RecoveryParams(Params):
    recovery_epochs: int = Field(
        0, ge=0, le=50, description="Epochs of distillation from the original; 0 = no recovery"
    )
    recovery_learning_rate: float = Field(1e-4, gt=0, le=0.1, description="Adam learning rate")
    temperature: float = Field(2.0, ge=1.0, le=20.0, description="Distillation temperature")


def recover(
    student: nn.Module,
    teacher: Callable[[torch.Tensor], torch.Tensor],
    images: torch.Tensor,
    params: RecoveryParams,
    progress: Progress = no_progress,
    after_step: Callable[[], None] | None = None,
    batch: int = 8,
    seed: int = 0,
) -> list[float]:
    """Train `student` (in place) for `params.recovery_epochs` epochs on `images` to match
    `teacher`'s outputs; returns the mean loss per epoch. BatchNorm statistics stay frozen
    (a few dozen images cannot re-estimate them). The student ends in eval mode, frozen."""
    device = next(student.parameters()).device
    targets = logits_of(teacher, images).to(device)
    temperature = params.temperature
    for parameter in student.parameters():
        parameter.requires_grad_(True)
    student.train()
    for module in student.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.eval()
    optimizer = torch.optim.Adam(
        [p for p in student.parameters() if p.requires_grad], lr=params.recovery_learning_rate
    )
    generator = torch.Generator().manual_seed(seed)
    steps_per_epoch = (len(images) + batch - 1) // batch
    total = params.recovery_epochs * steps_per_epoch
    losses: list[float] = []
    try:
        for epoch in range(params.recovery_epochs):
            order = torch.randperm(len(images), generator=generator)
            epoch_loss = 0.0
            for step in range(steps_per_epoch):
                chosen = order[step * batch : (step + 1) * batch]
                outputs = student(images[chosen].to(device))
                loss = F.kl_div(
                    F.log_softmax(outputs / temperature, dim=-1),
                    F.log_softmax(targets[chosen] / temperature, dim=-1),
                    log_target=True,
                    reduction="batchmean",
                ) * (temperature**2)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                if after_step is not None:
                    after_step()
                epoch_loss += float(loss.detach()) * len(chosen)
                progress(epoch * steps_per_epoch + step + 1, total)
            losses.append(epoch_loss / len(images))
    finally:
        student.eval()
        for parameter in student.parameters():
            parameter.requires_grad_(False)
    return losses


def recover_scored(
    original: LoadedModel,
    network: nn.Module,
    data: CompressionData,
    params: RecoveryParams,
    progress: Progress = no_progress,
    after_step: Callable[[], None] | None = None,
) -> Recovery:
    """`recover` a float network (pruned: `after_step` re-applies its masks), with its top-1
    agreement with the original on the evaluation images before and after."""

    def score() -> float:
        reference = logits_of(original.forward_logits, data.evaluation)
        return agreement(reference, logits_of(network, data.evaluation))

    started = time.perf_counter()
    before = score()
    losses = recover(
        network, original.forward_logits, data.calibration, params, progress, after_step
    )
    return Recovery(
        epochs=params.recovery_epochs,
        seconds=time.perf_counter() - started,
        losses=losses,
        agreement_before=before,
        agreement_after=score(),
    )
