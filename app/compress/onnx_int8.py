"""int8 with ONNX Runtime: static QDQ quantization of a float ONNX model (convolutions and
the classifier, int8 weights, uint8 activations), calibrated on images, and dynamic
quantization of the matrix products. ONNX Runtime runs QDQ graphs with its int8 kernels
(VNNI on CPUs that have it), so the speed measured is that of real int8 arithmetic."""

import contextlib
import io
import logging
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import onnx
import torch

from app.compress.calibration import Scheme
from app.compress.fake_quant import CalibrationRule

__all__ = ["initializer_elements", "quantize_dynamic", "quantize_static"]


class _Reader:
    """onnxruntime.quantization.CalibrationDataReader over a tensor, 8 images at a time."""

    def __init__(self, pixels: torch.Tensor) -> None:
        array = pixels.detach().cpu().float().numpy()
        self._batches = iter([{"pixels": array[i : i + 8]} for i in range(0, len(array), 8)])

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._batches, None)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """The quantizer prints its progress and logs at INFO: keep the server's log readable."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(max(level, logging.WARNING))
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        root.setLevel(level)


def quantize_static(
    model: bytes,
    calibration: torch.Tensor,
    per_channel: bool,
    rule: CalibrationRule,
    percentile: float = 99.99,
    scheme: Scheme = "affine",
) -> bytes:
    """int8 QDQ ONNX bytes of the float ONNX `model`, activations calibrated on `calibration`
    by `rule` ("minmax": no saturation; "percentile": clip at the p-th percentile; "entropy":
    ONNX Runtime's KL-divergence calibrator, 128 bins) on the `scheme` grid ("affine": uint8
    with a zero point; "symmetric": int8, scale only). ONNX Runtime has no MSE rule."""
    from onnxruntime.quantization import (
        CalibrationMethod,
        QuantFormat,
        QuantType,
    )
    from onnxruntime.quantization import quantize_static as ort_quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    methods = {
        "minmax": CalibrationMethod.MinMax,
        "percentile": CalibrationMethod.Percentile,
        "entropy": CalibrationMethod.Entropy,
    }
    extra: dict[str, object] = {"CalibPercentile": percentile} if rule == "percentile" else {}
    if scheme == "symmetric":
        extra["ActivationSymmetric"] = True
    with tempfile.TemporaryDirectory() as folder, _quiet():
        source, prepared, output = (Path(folder) / n for n in ("f.onnx", "p.onnx", "q.onnx"))
        source.write_bytes(model)
        quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
        ort_quantize_static(
            str(prepared),
            str(output),
            _Reader(calibration),
            quant_format=QuantFormat.QDQ,
            per_channel=per_channel,
            activation_type=QuantType.QUInt8 if scheme == "affine" else QuantType.QInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=methods[rule],
            extra_options=extra,
        )
        return output.read_bytes()


def quantize_dynamic(model: bytes) -> bytes:
    """ONNX bytes with the matrix products (the classifier) in dynamic int8: int8 weights,
    activations quantized per batch at run time. Convolutions stay float."""
    from onnxruntime.quantization import QuantType
    from onnxruntime.quantization import quantize_dynamic as ort_quantize_dynamic

    with tempfile.TemporaryDirectory() as folder, _quiet():
        source, output = Path(folder) / "f.onnx", Path(folder) / "q.onnx"
        source.write_bytes(model)
        ort_quantize_dynamic(
            str(source),
            str(output),
            op_types_to_quantize=["MatMul", "Gemm"],
            weight_type=QuantType.QInt8,
        )
        return output.read_bytes()


def initializer_elements(model: bytes) -> dict[str, int]:
    """Initializers of an ONNX model by element type name ("INT8", "FLOAT", ...): element counts."""
    graph = onnx.load_from_string(model).graph
    counts: dict[str, int] = {}
    for tensor in graph.initializer:
        kind = onnx.TensorProto.DataType.Name(tensor.data_type)
        counts[kind] = counts.get(kind, 0) + int(np.prod(tensor.dims, dtype=np.int64))
    return counts
