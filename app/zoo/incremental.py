"""Incremental inference for occlusion (after Nakandala et al., "Incremental and Approximate
Inference for Faster Occlusion-based Deep CNN Explanations", SIGMOD 2019).

An occluding patch changes only a small box of the early activations. A model spec may split its
pixels -> logits module into stages (`ModelSpec.stages`): every stage but the last is *local*
(convolutions, padding, pointwise layers: an output position depends only on a bounded input
window, and the stage is equivariant to shifts by its stride); the last one is global. For each
occluded image we run each local stage only on a crop around the changed box, paste the result
into the clean image's activations, and run the global stage on the patched activations.

Exactness: for a local stage with stride S whose output o depends on inputs [o·S - a, o·S + b],
the crop holds every input of every output we keep, or ends at the image border where the full
pass sees the same padding; crops start at multiples of S so strided grids line up. The kept
outputs are therefore the full pass's outputs, up to float rounding. a and b are measured from
gradients at preparation, widened by one stride, and the whole engine is checked against the
module on occluded images before it is used (within fast.TOLERANCE, like the ONNX Runtime path).
"""

import logging
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from app.zoo.fast import TOLERANCE, export_module, onnx_runtime_session

__all__ = ["IncrementalOcclusion", "Stage", "build_incremental_occlusion"]

log = logging.getLogger(__name__)

Stage = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class _LocalStage:
    run: Stage
    stride: int
    before: int  # how far up/left of o·S an output o reaches into its input
    after: int  # how far down/right


@dataclass(frozen=True)
class _Spans:
    """Where, along one axis, each window's changed box sits at one stage's input and output."""

    crop_start: torch.Tensor  # (N,) start of the input crop, a multiple of the stride
    crop_length: int
    out_start: torch.Tensor  # (N,) start of the kept output box
    out_length: int


def _spans(box_start: torch.Tensor, box_length: int, size: int, stage: _LocalStage) -> _Spans:
    """Crops of one stage's input (length `size` along this axis) that hold every input of
    every output changed by a box [box_start, box_start + box_length)."""
    stride, before, after = stage.stride, stage.before, stage.after
    out_size = size // stride
    # Output o reads inputs [o·S - before, o·S + after]: it changes iff that meets the box.
    first = torch.clamp(-torch.div(after - box_start, stride, rounding_mode="floor"), min=0)
    last = torch.clamp(
        torch.div(box_start + box_length - 1 + before, stride, rounding_mode="floor"),
        max=out_size - 1,
    )
    out_length = int((last - first).max()) + 1
    out_start = torch.clamp(first, max=out_size - out_length)
    need_start = torch.clamp(torch.minimum(box_start, out_start * stride - before), min=0)
    need_stop = torch.clamp(
        torch.maximum(box_start + box_length, (out_start + out_length - 1) * stride + after + 1),
        max=size,
    )
    crop_length = int((need_stop - need_start).max()) + stride - 1  # room to align the start
    crop_length = min(size, math.ceil(crop_length / stride) * stride)
    crop_start = torch.div(need_start, stride, rounding_mode="floor") * stride
    crop_start = torch.clamp(crop_start, max=size - crop_length)
    return _Spans(crop_start, crop_length, out_start, out_length)


class IncrementalOcclusion:
    """logits of occluded copies of one image, recomputing only what each patch changes."""

    def __init__(self, local: Sequence[_LocalStage], last: Stage, engine: str) -> None:
        self._local = list(local)
        self._last = last
        self.engine = engine

    def clean_activations(self, pixels: torch.Tensor) -> list[torch.Tensor]:
        """The unoccluded (1, 3, H, W) image's input to every stage, the last one included."""
        activations = [pixels]
        for stage in self._local:
            activations.append(stage.run(activations[-1]))
        return activations

    def logits(
        self,
        activations: list[torch.Tensor],
        boxes: torch.Tensor,
        patches: torch.Tensor,
    ) -> torch.Tensor:
        """(N, classes) logits of N images that differ from the clean one inside square boxes.

        boxes: (N, 2) long (top, left) of each box in pixels; patches: (N, 3, k, k) the pixels
        of each box after occlusion. activations: from clean_activations.
        """
        rows, cols = boxes[:, 0], boxes[:, 1]
        for stage, inputs in zip(self._local, activations[:-1], strict=True):
            height, width = inputs.shape[-2:]
            vertical = _spans(rows, patches.shape[-2], height, stage)
            horizontal = _spans(cols, patches.shape[-1], width, stage)
            crops = _gather(
                inputs[0],
                vertical.crop_start,
                horizontal.crop_start,
                vertical.crop_length,
                horizontal.crop_length,
            )
            _paste(crops, patches, rows - vertical.crop_start, cols - horizontal.crop_start)
            outputs = stage.run(crops)
            patches = _gather_batch(
                outputs,
                vertical.out_start - vertical.crop_start // stage.stride,
                horizontal.out_start - horizontal.crop_start // stage.stride,
                vertical.out_length,
                horizontal.out_length,
            )
            rows, cols = vertical.out_start, horizontal.out_start
        full = activations[-1].expand(len(boxes), -1, -1, -1).clone()
        _paste(full, patches, rows, cols)
        return self._last(full)


def _gather(
    source: torch.Tensor, tops: torch.Tensor, lefts: torch.Tensor, height: int, width: int
) -> torch.Tensor:
    """(N, C, height, width) crops of one (C, H, W) tensor at (tops[i], lefts[i])."""
    return torch.stack(
        [
            source[:, top : top + height, left : left + width]
            for top, left in zip(tops.tolist(), lefts.tolist(), strict=True)
        ]
    )


def _gather_batch(
    source: torch.Tensor, tops: torch.Tensor, lefts: torch.Tensor, height: int, width: int
) -> torch.Tensor:
    return torch.stack(
        [
            source[index, :, top : top + height, left : left + width]
            for index, (top, left) in enumerate(zip(tops.tolist(), lefts.tolist(), strict=True))
        ]
    )


def _paste(
    target: torch.Tensor, patches: torch.Tensor, tops: torch.Tensor, lefts: torch.Tensor
) -> None:
    height, width = patches.shape[-2:]
    for index, (top, left) in enumerate(zip(tops.tolist(), lefts.tolist(), strict=True)):
        target[index, :, top : top + height, left : left + width] = patches[index]


def _reach(stage: nn.Module, inputs: torch.Tensor, stride: int) -> tuple[int, int]:
    """(before, after): how far the centre output's input window extends, from gradients on a
    few random inputs (a zero gradient can hide a dependency, so take the widest and add S)."""
    height, width = inputs.shape[-2:]
    before = after = 0
    generator = torch.Generator().manual_seed(0)
    for scale in (1.0, 3.0, 0.3):
        probe = (torch.randn(inputs.shape, generator=generator) * scale).to(inputs)
        probe.requires_grad_(True)
        out = stage(probe)
        row, col = out.shape[-2] // 2, out.shape[-1] // 2
        (grad,) = torch.autograd.grad(out[0, :, row, col].sum(), probe)
        support = grad[0].abs().sum(dim=0) > 0
        rows = torch.nonzero(support.any(dim=1)).flatten()
        cols = torch.nonzero(support.any(dim=0)).flatten()
        if len(rows) == 0:
            continue
        before = max(before, row * stride - int(rows.min()), col * stride - int(cols.min()))
        after = max(after, int(rows.max()) - row * stride, int(cols.max()) - col * stride)
        if min(rows.min(), cols.min()) == 0 or rows.max() == height - 1 or cols.max() == width - 1:
            raise ValueError("a stage's receptive field covers the whole probe: not local")
    return before + stride, after + stride


def _onnx_stage(stage: nn.Module, example: torch.Tensor) -> Stage:
    """`stage` exported to ONNX Runtime with dynamic batch, height and width."""
    axes = {0: "batch", 2: "height", 3: "width"}
    session = onnx_runtime_session(export_module(stage, example, axes), spin=False)

    def run(inputs: torch.Tensor) -> torch.Tensor:
        array = inputs.detach().to("cpu", torch.float32).contiguous().numpy()
        (out,) = session.run(None, {"pixels": array})
        return torch.from_numpy(out)

    return run


def build_incremental_occlusion(
    stages: Sequence[nn.Module],
    input_size: int,
    device: torch.device,
    reference: nn.Module,
    onnx: bool = True,
) -> tuple[IncrementalOcclusion | None, str]:
    """The engine for these stages (with `onnx`, ONNX Runtime on the CPU when it is installed,
    else the modules themselves), or None and the reason it cannot be used."""
    if len(stages) < 2:
        return None, "the model declares no local stages"
    if any(stage.training for stage in stages):
        return None, "a stage is in training mode (its exports would leave the model there)"
    try:
        with torch.no_grad():
            inputs = [torch.rand(1, 3, input_size, input_size, device=device)]
            for stage in stages:
                inputs.append(stage(inputs[-1]))
        local: list[_LocalStage] = []
        for stage, before, after in zip(stages[:-1], inputs[:-2], inputs[1:-1], strict=True):
            stride = before.shape[-1] // after.shape[-1]
            if before.shape[-1] != after.shape[-1] * stride or before.shape[-2] != (
                after.shape[-2] * stride
            ):
                return None, f"a stage maps {tuple(before.shape)} to {tuple(after.shape)}"
            with torch.enable_grad():
                reach = _reach(stage, before, stride)
            local.append(_LocalStage(stage, stride, *reach))
        engine = "PyTorch"
        last: Stage = stages[-1]
        if onnx and device.type == "cpu" and _has_onnxruntime():
            local = [
                _LocalStage(_onnx_stage(module, x), s.stride, s.before, s.after)
                for module, s, x in zip(stages[:-1], local, inputs, strict=False)
            ]
            last = _onnx_stage(stages[-1], inputs[-2])
            engine = "ONNX Runtime"
        incremental = IncrementalOcclusion(
            [_LocalStage(_on(device, s.run), s.stride, s.before, s.after) for s in local],
            _on(device, last),
            engine,
        )
        difference = _self_check(incremental, reference, input_size, device)
    except Exception as error:  # an export or a stage that does not behave: use full passes
        log.warning("no incremental occlusion: %s: %s", type(error).__name__, error)
        return None, f"incremental occlusion unavailable ({type(error).__name__}: {error})"
    if not difference <= TOLERANCE:
        return None, f"incremental occlusion differed from the model by {difference:.2g}"
    return incremental, engine


def _on(device: torch.device, stage: Stage) -> Stage:
    def run(inputs: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return stage(inputs).to(device)

    return run


def _has_onnxruntime() -> bool:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def _self_check(
    engine: IncrementalOcclusion, reference: nn.Module, size: int, device: torch.device
) -> float:
    """Largest |logit difference| (relative to the largest |logit| when above 1) between the
    engine and the module on windows at the corners, the centre and clipped at the border."""
    generator = torch.Generator().manual_seed(1)
    pixels = torch.rand(1, 3, size, size, generator=generator).to(device)
    window = max(1, size // 7)
    corners = [0, (size - window) // 2, size - window]
    boxes = torch.tensor([(top, left) for top in corners for left in corners], device=device)
    occluded = pixels.repeat(len(boxes), 1, 1, 1)
    patches = []
    for index, (top, left) in enumerate(boxes.tolist()):
        occluded[index, :, top : top + window, left : left + window] = 0.5
        patches.append(occluded[index, :, top : top + window, left : left + window])
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = reference(occluded)
        got = engine.logits(engine.clean_activations(pixels), boxes, torch.stack(patches))
    scale = max(1.0, float(expected.abs().max()))
    return float((got - expected).abs().max()) / scale
