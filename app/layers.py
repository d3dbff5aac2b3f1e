"""Find and watch a layer of the model: Grad-CAM's target layer and its activations."""

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from torch import nn

from app.errors import BadParameter
from app.zoo import LoadedModel

__all__ = [
    "capture_leaves",
    "capture_outputs",
    "last_spatial_conv",
    "probe_outputs",
    "resolve_layer",
    "spatial_convs",
]


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


@contextmanager
def capture_leaves(module: nn.Module) -> Iterator[list[torch.Tensor]]:
    """Like capture_outputs, but each output of this thread's calls is replaced by a detached
    copy that requires grad: the layers before it record no backward graph (Grad-CAM needs the
    gradient at the layer only), the layers after it differentiate from it."""
    outputs: list[torch.Tensor] = []
    owner = threading.get_ident()

    def replace(_module: nn.Module, _inputs: object, output: object) -> object:
        if threading.get_ident() != owner or not isinstance(output, torch.Tensor):
            return None  # keep the output (another job's call, or not one tensor)
        leaf = output.detach().requires_grad_(True)
        outputs.append(leaf)
        return leaf

    handle = module.register_forward_hook(replace)
    try:
        yield outputs
    finally:
        handle.remove()


def probe_outputs(model: LoadedModel, names: list[str]) -> dict[str, tuple[int, ...]]:
    """Output shape of each named submodule on one forward pass of a blank image, in the order
    the modules ran (modules that did not run are left out). Only this thread's calls count."""
    shapes: dict[str, tuple[int, ...]] = {}
    owner = threading.get_ident()

    def hook(name: str) -> Callable[[nn.Module, object, torch.Tensor], None]:
        def record(_module: nn.Module, _inputs: object, output: torch.Tensor) -> None:
            if threading.get_ident() == owner and name not in shapes:
                shapes[name] = tuple(getattr(output, "shape", ()))

        return record

    handles = [
        model.network.get_submodule(name).register_forward_hook(hook(name)) for name in names
    ]
    try:
        size = model.input_size
        with torch.no_grad():
            model.module(torch.zeros(1, 3, size, size, device=model.device))
    finally:
        for handle in handles:
            handle.remove()
    return shapes


def spatial_convs(model: LoadedModel) -> list[str]:
    """Names of the Conv2d layers whose output has height and width > 1, in the order they run:
    the layers Grad-CAM can use."""
    convs = [n for n, m in model.network.named_modules() if isinstance(m, nn.Conv2d)]
    shapes = probe_outputs(model, convs)
    return [name for name, shape in shapes.items() if len(shape) == 4 and min(shape[2:]) > 1]


def last_spatial_conv(model: LoadedModel) -> str:
    """Name (inside model.network) of the last Conv2d whose output has height and width > 1."""
    spatial = spatial_convs(model)
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
