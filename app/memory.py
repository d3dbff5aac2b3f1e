"""A job's peak memory, estimated from its parameters before it is accepted (issue 19, H4/H5).

A request that would need more than `LANTERN_MAX_JOB_MEMORY` is refused with 422 naming the
estimate and the limit, instead of being queued to take the host down. The estimate is
deliberately simple and a little generous:

- a method's batch: `FIXED_BYTES + batch × per-image bytes`, where per image is the sum of
  every layer's output in one forward pass (what autograd keeps for the backward pass) times
  BACKWARD_FACTOR for methods with gradients, or a few of the largest outputs for
  forward-only methods (only those are alive at once);
- an evaluation set: `views × 3 × S × S × 4` bytes of tensors, plus one decoded source at the
  pixel limit while it is augmented.

tests/jobs/test_memory.py checks it against measured peaks (within a factor of 2).
"""

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from app.errors import BadParameter
from app.zoo import LoadedModel

__all__ = [
    "BACKWARD_FACTOR",
    "Footprint",
    "JobTooLarge",
    "check_job_memory",
    "evaluation_set_bytes",
    "footprint",
    "method_bytes",
]

# Measured on a conv net (tests/jobs/test_memory.py, batches of 4 to 32): a job's peak grows
# by ~1.1× the summed outputs per image with gradients, ~2.3× the largest output per image
# forward-only, on top of ~40 MiB whatever the batch (thread scratch, the allocator).
BACKWARD_FACTOR = 1.25  # saved activations + the gradients alive at once during the backward
FORWARD_FACTOR = 3  # the largest output, its input and one temporary
FIXED_BYTES = 64 * 2**20
_lock = threading.Lock()
_footprints: dict[tuple[int, int], "Footprint"] = {}


class JobTooLarge(BadParameter):
    """A job whose estimated peak memory is over LANTERN_MAX_JOB_MEMORY."""


@dataclass(frozen=True)
class Footprint:
    """Bytes per image at the model's input size: every layer's output together, and the
    largest one."""

    activations: int
    largest: int


def footprint(model: LoadedModel) -> Footprint:
    """Measured once per model with one forward pass of one image (hooks on every leaf
    module count the bytes of its output)."""
    key = (id(model.module), model.input_size)
    with _lock:
        known = _footprints.get(key)
    if known is not None:
        return known
    sizes: list[int] = []

    def count(module: nn.Module, inputs: Any, output: Any) -> None:
        if isinstance(output, torch.Tensor):
            sizes.append(output.numel() * 4)  # float32 on the backward path

    leaves = [m for m in model.module.modules() if not any(True for _ in m.children())]
    handles = [m.register_forward_hook(count) for m in leaves]
    try:
        pixels = torch.zeros(1, 3, model.input_size, model.input_size, device=model.device)
        with torch.no_grad():
            model.module(pixels)
    finally:
        for handle in handles:
            handle.remove()
    pixels_bytes = 3 * model.input_size**2 * 4
    measured = Footprint(sum(sizes) + pixels_bytes, max([pixels_bytes, *sizes]))
    with _lock:
        _footprints[key] = measured
    return measured


def method_bytes(model: LoadedModel, forward_only: bool, params: Mapping[str, Any]) -> int:
    """Peak bytes of an explanation method's batches. The batch is `batch_size` (empty: the
    model's forward batch; no such parameter: one image), at most the method's points
    (`steps`, `samples`) when it has them."""
    batch = int(params.get("batch_size") or model.forward_batch) if "batch_size" in params else 1
    for points in ("steps", "samples"):
        if isinstance(params.get(points), int):
            batch = min(batch, int(params[points]))
    size = footprint(model)
    per_image = (
        FORWARD_FACTOR * size.largest if forward_only else BACKWARD_FACTOR * size.activations
    )
    return int(FIXED_BYTES + batch * per_image)


def evaluation_set_bytes(
    model: LoadedModel,
    images: int,
    augmentations: int,
    calibration_augmentations: int,
    max_pixels: int,
) -> int:
    """An evaluation set's tensors (every view, calibration too) plus one decoded source at
    the pixel limit and its augmented copies (RGB, 8 bits), plus one forward batch."""
    views = images * (1 + augmentations + calibration_augmentations)
    tensors = views * 3 * model.input_size**2 * 4
    decoded = 4 * 3 * max_pixels
    batch = model.forward_batch * FORWARD_FACTOR * footprint(model).largest
    return tensors + decoded + batch


def check_job_memory(estimate: int, limit: int, what: str, advice: str) -> None:
    """Raise JobTooLarge (422) when `estimate` is over `limit`, naming both."""
    if estimate > limit:
        raise JobTooLarge(
            f"{what} would need about {_size(estimate)} of memory at its peak; this server's "
            f"limit per job is {_size(limit)} (LANTERN_MAX_JOB_MEMORY): {advice}"
        )


def _size(count: int) -> str:
    return f"{count / 2**30:.1f} GiB" if count >= 2**30 else f"{count / 2**20:.0f} MiB"
