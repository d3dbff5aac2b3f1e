"""Helpers the recipes share to turn a compressed network into a runnable variant."""

import copy

import torch
from safetensors.torch import save
from torch import nn

from app.compress.measure import agreement, logits_of
from app.zoo import LoadedModel
from app.zoo.fast import FastForward

__all__ = ["as_variant", "editable_copy", "safetensors_bytes", "top1_agreement", "weights_of"]


def editable_copy(model: LoadedModel) -> nn.Module:
    """A deep copy of the model's pixels -> logits module on the CPU, safe to change."""
    return copy.deepcopy(model.module).cpu().eval()


def as_variant(
    original: LoadedModel, module: nn.Module, forward: FastForward | None, engine: str, note: str
) -> LoadedModel:
    """A LoadedModel whose `forward_logits` runs `forward` (or `module` when None) and whose
    gradient methods differentiate `module`. Variants live on the CPU, where ONNX Runtime's
    int8 kernels run, whatever device the original uses."""
    module = module.cpu().eval()
    for parameter in module.parameters():
        parameter.requires_grad_(False)
    return LoadedModel(
        spec=original.spec,
        module=module,  # type: ignore[arg-type]
        labels=original.labels,
        device=torch.device("cpu"),
        weights=f"{original.weights}, {note}",
        fast_forward=forward,
        engine=engine,
        forward_is_module=forward is None,
    )


def weights_of(module: nn.Module) -> list[torch.Tensor]:
    return [parameter.detach() for parameter in module.parameters()]


def safetensors_bytes(module: nn.Module) -> bytes:
    state = {k: v.detach().contiguous().cpu() for k, v in module.state_dict().items()}
    return save(state)


def top1_agreement(original: LoadedModel, forward: FastForward, pixels: torch.Tensor) -> float:
    return agreement(logits_of(original.forward_logits, pixels), logits_of(forward, pixels))
