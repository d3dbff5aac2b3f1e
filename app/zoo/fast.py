"""A faster forward pass for methods that only need logits (occlusion, KernelSHAP, deletion and
insertion curves): the model exported to ONNX and run by ONNX Runtime on the CPU (on CUDA: see
app/zoo/accelerated.py).

Measured on the default model, 2 cores: 6 ms per image at batches of 8–32 against 24–48 ms for
eager PyTorch, logits equal within 1e-5. The export is checked against eager PyTorch on a random
batch before it is used; any failure (no onnxruntime, an operator ONNX lacks, a mismatch) leaves
the model on eager PyTorch and says why.
"""

import logging
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from app.zoo.accelerated import build_accelerated_forward

__all__ = [
    "TOLERANCE",
    "FastForward",
    "build_fast_forward",
    "export_module",
    "export_onnx",
    "onnx_runtime_forward",
    "onnx_runtime_session",
]

log = logging.getLogger(__name__)

TOLERANCE = 1e-3
"""Largest |logit difference| from eager PyTorch accepted for the fast path, relative to the
largest |logit| when that is above 1 (seen on the default model: ~1e-5)."""

FastForward = Callable[[torch.Tensor], torch.Tensor]

_SPATIAL_AXES = {0: "batch", 2: "height", 3: "width"}


class _OnnxRuntimeForward:
    def __init__(self, session: object) -> None:
        self._session = session

    def __call__(self, pixels: torch.Tensor) -> torch.Tensor:
        array = pixels.detach().to("cpu", torch.float32).contiguous().numpy()
        (logits,) = self._session.run(None, {"pixels": array})  # type: ignore[attr-defined]
        return torch.from_numpy(logits)


def build_fast_forward(
    module: nn.Module, input_size: int, device: torch.device
) -> tuple[FastForward | None, str]:
    """(forward, engine): a faster logits-only forward of `module`, or None and the reason:
    ONNX Runtime on the CPU, a float16 channels-last copy with CUDA graphs on CUDA."""
    if device.type == "cuda":
        return build_accelerated_forward(module, input_size, device, tolerance=TOLERANCE)
    if device.type != "cpu":
        return None, f"PyTorch on {device.type}"
    try:
        import onnxruntime  # noqa: F401  (only: is it installed?)
    except ImportError:
        return None, "PyTorch (onnxruntime is not installed)"
    probe = torch.rand(2, 3, input_size, input_size, generator=torch.Generator().manual_seed(0))
    try:
        forward = onnx_runtime_forward(_export_any_size(module, input_size))
        with torch.no_grad():
            expected = module(probe)
        scale = max(1.0, float(expected.abs().max()))
        difference = float((forward(probe) - expected).abs().max()) / scale
    except Exception as error:  # any exporter or runtime failure: stay on eager PyTorch
        log.warning("no ONNX Runtime path: %s: %s", type(error).__name__, error)
        return None, f"PyTorch (ONNX export failed: {type(error).__name__})"
    if not difference <= TOLERANCE:
        return None, f"PyTorch (ONNX Runtime differed by {difference:.2g})"
    return forward, "ONNX Runtime"


def _export_any_size(module: nn.Module, input_size: int) -> bytes:
    """Height and width dynamic where the model allows it (benchmarks at other sizes), else
    only the batch."""
    try:
        return export_onnx(module, input_size, spatial=True)
    except Exception:  # e.g. a transformer's fixed number of patches
        return export_onnx(module, input_size)


def export_onnx(module: nn.Module, input_size: int, spatial: bool = False) -> bytes:
    """`module` (pixels -> logits) as ONNX bytes with a dynamic batch axis (and height and width
    with `spatial`, for convolutional models); input "pixels"."""
    probe = torch.rand(2, 3, input_size, input_size, generator=torch.Generator().manual_seed(0))
    return export_module(module, probe, _SPATIAL_AXES if spatial else {0: "batch"})


def export_module(module: nn.Module, example: torch.Tensor, axes: dict[int, str]) -> bytes:
    """`module` (one tensor in, one out) as ONNX bytes, input "pixels", output "logits", with
    the named dynamic `axes` on both (batch, and height/width for convolutional stages)."""
    device = next(iter(module.parameters()), example).device
    with tempfile.TemporaryDirectory() as folder, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's notes on shape inference
        path = Path(folder) / "model.onnx"
        torch.onnx.export(
            module,
            (example.to(device),),
            path,
            input_names=["pixels"],
            output_names=["logits"],
            dynamic_axes={"pixels": axes, "logits": axes},
            dynamo=False,
        )
        return path.read_bytes()


def onnx_runtime_session(model: bytes, spin: bool = True) -> Any:
    """An ONNX Runtime CPU inference session over `model` (float32 or int8 QDQ). spin=False:
    its threads sleep between runs instead of spinning, for sessions that take turns with
    others (two spinning sessions fight over the cores: seen +40 % time on 2 cores)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    if not spin:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def onnx_runtime_forward(model: bytes) -> FastForward:
    """An ONNX Runtime CPU session over `model` (float32 or int8 QDQ), as a logits forward."""
    return _OnnxRuntimeForward(onnx_runtime_session(model, spin=False))
