"""A faster forward pass on a GPU for methods that only need logits (occlusion, KernelSHAP,
deletion and insertion curves): a frozen copy of the model in channels-last memory, in float16
when its logits stay within fast.TOLERANCE of the model's (else float32), replayed on CUDA from
a graph captured once per batch shape (batches padded up to a power of two, so a run's last,
smaller batch reuses a graph; no per-layer launch cost after the first batch). tune_batch picks
the batch size with the lowest time per image on the device.

The copy is checked against the model on a random batch before it is used, one precision after
the other; when none passes, or anything raises, the model stays on eager PyTorch and says why.
Not yet timed on a GPU (none was lent to the sessions that built it): the precision choice and
the check also run on the CPU, where the tests exercise them; graph capture runs on CUDA only.
"""

import copy
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

__all__ = ["AcceleratedForward", "build_accelerated_forward", "tune_batch"]

log = logging.getLogger(__name__)

_GRAPHS_KEPT = 8  # batch shapes with a captured graph (each keeps its activations' memory)


@dataclass(frozen=True)
class _Graph:
    graph: "torch.cuda.CUDAGraph"
    inputs: torch.Tensor  # static buffers the graph reads and writes
    outputs: torch.Tensor


class AcceleratedForward:
    """pixels (N, 3, H, W) -> float32 logits, run by a channels-last copy in `dtype`."""

    def __init__(self, module: nn.Module, dtype: torch.dtype, graphs: bool) -> None:
        self._module = module
        self.dtype = dtype
        self.device = next(iter(module.parameters())).device
        self._graphs: OrderedDict[tuple[int, ...], _Graph] | None = (
            OrderedDict() if graphs else None
        )
        self._lock = threading.Lock()  # graphs share static buffers: one replay at a time

    @property
    def engine(self) -> str:
        precision = str(self.dtype).removeprefix("torch.")
        graphs = ", CUDA graphs" if self._graphs is not None else ""
        return f"PyTorch {self.device.type.upper()}, {precision}, channels-last{graphs}"

    @torch.no_grad()
    def __call__(self, pixels: torch.Tensor) -> torch.Tensor:
        inputs = pixels.detach().to(self.device, self.dtype)
        inputs = inputs.contiguous(memory_format=torch.channels_last)
        if self._graphs is None:
            return self._module(inputs).to(torch.float32)
        count = len(inputs)
        padded = 1 << max(0, count - 1).bit_length()  # few shapes, so few captures
        with self._lock:
            graph = self._graph((padded, *inputs.shape[1:]))
            graph.inputs[:count].copy_(inputs)
            graph.inputs[count:].zero_()
            graph.graph.replay()
            return graph.outputs[:count].to(torch.float32, copy=True)

    def _graph(self, shape: tuple[int, ...]) -> _Graph:
        assert self._graphs is not None
        if shape in self._graphs:
            self._graphs.move_to_end(shape)
            return self._graphs[shape]
        if len(self._graphs) >= _GRAPHS_KEPT:
            self._graphs.popitem(last=False)
        inputs = torch.zeros(shape, device=self.device, dtype=self.dtype)
        inputs = inputs.contiguous(memory_format=torch.channels_last)
        stream = torch.cuda.Stream(self.device)
        stream.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(stream):
            for _ in range(3):  # cuDNN picks its algorithms here, outside the capture
                self._module(inputs)
        torch.cuda.current_stream(self.device).wait_stream(stream)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            outputs = self._module(inputs)
        self._graphs[shape] = _Graph(graph, inputs, outputs)
        return self._graphs[shape]


def build_accelerated_forward(
    module: nn.Module,
    input_size: int,
    device: torch.device,
    dtypes: Sequence[torch.dtype] = (torch.float16, torch.float32),
    tolerance: float = 1e-3,
) -> tuple[AcceleratedForward | None, str]:
    """(forward, engine): the first of `dtypes` whose copy of `module` gives logits within
    `tolerance` (relative to the largest |logit| when above 1) of the module's on a random
    batch, with CUDA graphs on CUDA; or None and why. `module` itself is not changed."""
    generator = torch.Generator().manual_seed(0)
    probe = torch.rand(4, 3, input_size, input_size, generator=generator).to(device)
    with torch.no_grad():
        expected = module(probe).float()
    scale = max(1.0, float(expected.abs().max()))
    reasons = []
    for dtype in dtypes:
        precision = str(dtype).removeprefix("torch.")
        try:
            frozen = copy.deepcopy(module).eval().to(device=device, dtype=dtype)
            frozen = frozen.to(memory_format=torch.channels_last)
            for parameter in frozen.parameters():
                parameter.requires_grad_(False)
            forward = AcceleratedForward(frozen, dtype, graphs=device.type == "cuda")
            difference = float((forward(probe) - expected).abs().max()) / scale
        except Exception as error:  # a layer without this precision, a failed capture
            log.warning("no %s forward: %s: %s", precision, type(error).__name__, error)
            reasons.append(f"{precision} failed: {type(error).__name__}")
            continue
        if difference <= tolerance:
            return forward, forward.engine
        reasons.append(f"{precision} differed by {difference:.2g}")
    return None, f"PyTorch ({'; '.join(reasons)})"


def tune_batch(
    forward: Callable[[torch.Tensor], torch.Tensor],
    input_size: int,
    device: torch.device,
    candidates: Sequence[int],
) -> tuple[int, dict[int, float]]:
    """(the candidate batch size with the lowest seconds per image, seconds per image of each
    one tried): each is run once to warm up (a graph capture on CUDA), then timed twice, the
    faster run counting; a size that runs out of memory ends the search."""
    timings: dict[int, float] = {}
    for size in candidates:
        pixels = torch.rand(size, 3, input_size, input_size, device=device)
        try:
            runs = []
            for _ in range(3):
                started = time.perf_counter()
                forward(pixels)
                if device.type == "cuda":
                    torch.cuda.synchronize(device)
                runs.append(time.perf_counter() - started)
        except torch.OutOfMemoryError:
            break
        timings[size] = min(runs[1:]) / size
    if not timings:
        raise ValueError(f"no batch size of {list(candidates)} ran on {device}")
    return min(timings, key=timings.__getitem__), timings
