"""Which tensor a layer's channels are read from, and which input pixels each position sees.

A layer is named as the layer list names it (GET /api/models/{name}/layers, app/layers.py): a
submodule of `model.network` that runs once per forward pass and gives (N, C, H, W). Its
channels are read **after its activation**: hooks follow the layer's output through the
BatchNorm and the activation that take it as their input, by tensor identity (so a ReLU6 module
shared by several convolutions, as in EfficientNet's blocks, is followed only when it is applied
to this layer's output). Where no activation follows (EfficientNet's `_project_conv`, the linear
bottleneck; a block's output, linear after its residual sum) the tensor is the BatchNorm's
output, or the layer's own output: `tapped_as` says which.

Receptive fields are measured, not derived: the input rows a layer position depends on are the
rows where the gradient of that position's row (summed over channels and columns) is non-zero,
unioned over two noise probes (the same for columns). BatchNorm and activations are pointwise,
so the layer's own output is differentiated. A max-pooling layer passes gradient to one pixel
per window, so with such a layer the two probes can miss some rows at a field's edge.
"""

import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass

import torch
from torch import nn

from app.errors import BadParameter
from app.layers import probe_outputs
from app.zoo import LoadedModel

__all__ = [
    "ACTIVATIONS",
    "ReceptiveField",
    "Tap",
    "check_layers",
    "clear_receptive_fields",
    "receptive_field",
    "tap",
]

ACTIVATIONS = (
    nn.ReLU,
    nn.ReLU6,
    nn.SiLU,
    nn.Hardswish,
    nn.GELU,
    nn.LeakyReLU,
    nn.ELU,
    nn.Mish,
)
_NORMS = (nn.BatchNorm2d, nn.GroupNorm, nn.LayerNorm, nn.InstanceNorm2d)


@dataclass
class Tap:
    """The post-activation output of one layer during the block (one entry per forward pass of
    this thread); `tapped_as` names the tensor taken: 'activation', 'norm' or 'output'."""

    layer: str
    outputs: list[torch.Tensor]
    tapped_as: str = "output"


@contextmanager
def tap(model: LoadedModel, layer: str) -> Iterator[Tap]:
    """Record `layer`'s post-activation output on each forward pass made by this thread in the
    block; every hook is removed on exit (the model is never changed)."""
    module = _layer(model, layer)
    owner = threading.get_ident()
    found = Tap(layer, [])
    chain: dict[str, object] = {"tensor": None, "stage": "done"}

    def start(_module: nn.Module, _inputs: object, output: object) -> None:
        if threading.get_ident() != owner or not isinstance(output, torch.Tensor):
            return
        found.outputs.append(output)
        found.tapped_as = "output"
        chain["tensor"], chain["stage"] = output, "output"

    def follow(kind: str) -> object:
        def hook(_module: nn.Module, inputs: tuple[object, ...], output: object) -> None:
            if threading.get_ident() != owner or chain["stage"] == "done" or not inputs:
                return
            if inputs[0] is not chain["tensor"] or not isinstance(output, torch.Tensor):
                return
            if kind == "norm" and chain["stage"] != "output":
                return
            found.outputs[-1] = output
            found.tapped_as = "activation" if kind == "activation" else "norm"
            chain["tensor"] = output
            chain["stage"] = "done" if kind == "activation" else "norm"

        return hook

    handles = [module.register_forward_hook(start)]
    for other in model.network.modules():
        if other is module:
            continue
        if isinstance(other, ACTIVATIONS):
            handles.append(other.register_forward_hook(follow("activation")))  # type: ignore[arg-type]
        elif isinstance(other, _NORMS):
            handles.append(other.register_forward_hook(follow("norm")))  # type: ignore[arg-type]
    try:
        yield found
    finally:
        for handle in handles:
            handle.remove()


def _layer(model: LoadedModel, layer: str) -> nn.Module:
    try:
        return model.network.get_submodule(layer)
    except AttributeError:
        raise BadParameter(
            f"{model.name} has no layer {layer!r} (GET /api/models/{model.name}/layers lists "
            "them; `lantern models` names the models)"
        ) from None


def check_layers(model: LoadedModel, layers: list[str]) -> dict[str, tuple[int, ...]]:
    """Each layer's output shape (1, C, H, W) on a blank image, or BadParameter: unknown, not
    run, run more than once per forward pass, or not a (N, C, H, W) output."""
    if not layers:
        raise BadParameter("name at least one layer (--layer)")
    if len(set(layers)) != len(layers):
        raise BadParameter("a layer is named twice")
    calls: dict[str, int] = {}
    owner = threading.get_ident()
    handles = []
    for name in layers:

        def count(_m: nn.Module, _i: object, _o: object, name: str = name) -> None:
            if threading.get_ident() == owner:
                calls[name] = calls.get(name, 0) + 1

        handles.append(_layer(model, name).register_forward_hook(count))
    try:
        shapes = probe_outputs(model, layers)
    finally:
        for handle in handles:
            handle.remove()
    for name in layers:
        shape = shapes.get(name)
        if shape is None:
            raise BadParameter(f"layer {name!r} of {model.name} does not run on a forward pass")
        if calls.get(name, 0) > 1:
            raise BadParameter(
                f"layer {name!r} of {model.name} runs {calls[name]} times per forward pass; "
                "name a convolution or a block that runs once"
            )
        if len(shape) != 4:
            raise BadParameter(f"layer {name!r} of {model.name} gives {shape}, not (N, C, H, W)")
    return {name: shapes[name] for name in layers}


@dataclass(frozen=True)
class ReceptiveField:
    """rows[y] = (first, stop) input rows of layer row y (stop exclusive); cols likewise."""

    rows: list[tuple[int, int]]
    cols: list[tuple[int, int]]

    def box(self, y: int, x: int) -> list[int]:
        """[top, left, bottom, right] in model-view pixels, bottom and right exclusive."""
        return [self.rows[y][0], self.cols[x][0], self.rows[y][1], self.cols[x][1]]


class _Stop(Exception):
    pass


def receptive_field(model: LoadedModel, layer: str, probes: int = 2) -> ReceptiveField:
    """The input extent of every row and column of `layer`'s output (see the module docstring).

    Measured lines: all of them when the layer has at most FULL rows (columns); otherwise the
    three at each border and the middle one, the others following the middle one by the
    layer's stride (size / lines; convolutions are translation-equivariant away from the
    padding), clipped to the image. Falls back to measuring all when the middle one's field
    reaches both borders. One forward pass stopped at the layer, one backward pass; kept per
    (architecture, model name, input size, layer) for the process (clear_receptive_fields)."""
    key = (type(model.network).__qualname__, model.name, model.input_size, layer, probes)
    with _FIELDS_LOCK:
        known = _FIELDS.get(key)
    if known is not None:
        return known
    module = _layer(model, layer)
    size = model.input_size
    shape = _layer_shape(model, module, size)
    height, width = shape[2], shape[3]
    generator = torch.Generator().manual_seed(0)
    probe = torch.rand(probes, 3, size, size, generator=generator).to(model.device)
    lines = {"rows": _sampled(height), "cols": _sampled(width)}
    measured = _measure(model, module, probe, lines)
    extents: dict[str, list[tuple[int, int]]] = {}
    for axis, count in (("rows", height), ("cols", width)):
        middle = measured[axis][count // 2]
        if len(lines[axis]) < count and middle[0] == 0 and middle[1] == size:
            lines[axis] = list(range(count))
            measured[axis] = _measure(model, module, probe, {axis: lines[axis]})[axis]
        extents[axis] = [
            measured[axis].get(line) or _shifted(middle, line - count // 2, size / count, size)
            for line in range(count)
        ]
    field = ReceptiveField(extents["rows"], extents["cols"])
    with _FIELDS_LOCK:
        _FIELDS[key] = field
    return field


# Fields depend on the architecture and the input size only: measured once per process.
_FIELDS: dict[tuple[str, str, int, str, int], ReceptiveField] = {}
_FIELDS_LOCK = threading.Lock()


def clear_receptive_fields() -> None:
    """Forget the measured fields (a benchmark times the measurement)."""
    with _FIELDS_LOCK:
        _FIELDS.clear()


FULL = 16


def _sampled(count: int) -> list[int]:
    if count <= FULL:
        return list(range(count))
    return sorted({0, 1, 2, count // 2, count - 3, count - 2, count - 1})


def _shifted(middle: tuple[int, int], lines: int, stride: float, size: int) -> tuple[int, int]:
    shift = round(lines * stride)
    return (min(max(middle[0] + shift, 0), size), min(max(middle[1] + shift, 0), size))


def _stopped_at(
    model: LoadedModel, module: nn.Module, pixels: torch.Tensor, grad: bool
) -> torch.Tensor:
    """The module's output on `pixels`; the forward pass stops there (this thread's call)."""
    owner = threading.get_ident()
    seen: list[torch.Tensor] = []

    def stop(_m: nn.Module, _i: object, output: object) -> None:
        if threading.get_ident() == owner and isinstance(output, torch.Tensor):
            seen.append(output)
            raise _Stop

    handle = module.register_forward_hook(stop)
    try:
        with torch.set_grad_enabled(grad), suppress(_Stop):
            model.module(pixels)
    finally:
        handle.remove()
    if not seen:
        raise BadParameter("that layer does not run on a forward pass")
    return seen[0]


def _layer_shape(model: LoadedModel, module: nn.Module, size: int) -> tuple[int, ...]:
    blank = torch.zeros(1, 3, size, size, device=model.device)
    return tuple(_stopped_at(model, module, blank, grad=False).shape)


def _measure(
    model: LoadedModel, module: nn.Module, probe: torch.Tensor, lines: dict[str, list[int]]
) -> dict[str, dict[int, tuple[int, int]]]:
    """{axis: {line: (first, stop)}}: the batch holds one copy of every probe per measured
    line; copy b's gradient is that of its line of the output (summed over channels and the
    other axis), so one backward pass measures every line."""
    jobs = [(axis, line) for axis, picked in lines.items() for line in picked]
    probes = probe.shape[0]
    pixels = probe.repeat(len(jobs), 1, 1, 1).requires_grad_(True)
    output = _stopped_at(model, module, pixels, grad=True)
    mask = torch.zeros(output.shape[0], 1, *output.shape[2:], device=output.device)
    for number, (axis, line) in enumerate(jobs):
        chunk = mask[number * probes : (number + 1) * probes]
        if axis == "rows":
            chunk[:, :, line, :] = 1.0
        else:
            chunk[:, :, :, line] = 1.0
    (gradient,) = torch.autograd.grad((output * mask).sum(), pixels)
    reach = gradient.abs().sum(dim=1).cpu()  # (batch, size, size)
    found: dict[str, dict[int, tuple[int, int]]] = {axis: {} for axis in lines}
    for number, (axis, line) in enumerate(jobs):
        block = reach[number * probes : (number + 1) * probes].sum(dim=0)
        along = block.sum(dim=1) if axis == "rows" else block.sum(dim=0)
        found[axis][line] = _extent(along > 0)
    return found


def _extent(line: torch.Tensor) -> tuple[int, int]:
    hits = torch.nonzero(line).flatten()
    if hits.numel() == 0:
        return (0, int(line.numel()))
    return (int(hits[0]), int(hits[-1]) + 1)
