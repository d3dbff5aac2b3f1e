"""Find and watch a layer of the model: Grad-CAM's target layer and its activations."""

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

from app.errors import BadParameter
from app.zoo import LoadedModel

__all__ = ["capture_outputs", "last_spatial_conv", "resolve_layer"]


@contextmanager
def capture_outputs(module: nn.Module) -> Iterator[list[torch.Tensor]]:
    """Every output of `module` during the block, one per call; the hook is always removed.

    Hooks belong to the module, which concurrent jobs share: only calls made by this thread
    are recorded, so another job's forward pass never lands in this list."""
    outputs: list[torch.Tensor] = []
    owner = threading.get_ident()

    def record(_module: nn.Module, _inputs: object, output: torch.Tensor) -> None:
        if threading.get_ident() == owner:
            outputs.append(output)

    handle = module.register_forward_hook(record)
    try:
        yield outputs
    finally:
        handle.remove()


def last_spatial_conv(model: LoadedModel) -> str:
    """Name (inside model.network) of the last Conv2d whose output has height and width > 1."""
    shapes: dict[str, tuple[int, ...]] = {}
    handles = []
    owner = threading.get_ident()
    for name, module in model.network.named_modules():
        if isinstance(module, nn.Conv2d):

            def record(_m: nn.Module, _i: object, output: torch.Tensor, name: str = name) -> None:
                if threading.get_ident() == owner:
                    shapes[name] = tuple(output.shape)

            handles.append(module.register_forward_hook(record))
    try:
        size = model.input_size
        with torch.no_grad():
            model.module(torch.zeros(1, 3, size, size, device=model.device))
    finally:
        for handle in handles:
            handle.remove()
    spatial = [name for name, shape in shapes.items() if len(shape) == 4 and min(shape[2:]) > 1]
    if not spatial:
        raise BadParameter(f"{model.name} has no convolution with a spatial output for Grad-CAM")
    return spatial[-1]


def resolve_layer(model: LoadedModel, requested: str | None) -> tuple[str, nn.Module]:
    """The requested layer, else the model's default, else the last spatial convolution."""
    name = requested or model.spec.grad_cam_layer or last_spatial_conv(model)
    try:
        return name, model.network.get_submodule(name)
    except AttributeError:
        if requested:
            convs = [n for n, m in model.network.named_modules() if isinstance(m, nn.Conv2d)]
            hint = ", ".join(convs[-3:])
            raise BadParameter(
                f"{model.name} has no layer {requested!r}; its last convolutions are: {hint}"
            ) from None
    name = last_spatial_conv(model)
    return name, model.network.get_submodule(name)
