"""Static int8 post-training quantization with ONNX Runtime (QDQ): convolutions and the
classifier in int8, with per-channel or per-tensor weight scales and activation ranges
calibrated on images by min/max (no saturation), a percentile or the least KL divergence
(entropy, TensorRT's rule: both saturate the outliers), on a uint8 grid with a zero point
(affine) or an int8 grid with scale only (symmetric). With `recovery_epochs`,
quantization-aware recovery: the fake-quantized twin is distilled from the original, then
quantized again."""

import time
from typing import Literal

from pydantic import Field
from torch import nn

from app.compress._variants import as_variant, editable_copy, top1_agreement
from app.compress.base import RECIPES, CompressedModel, CompressionData, Recipe, Recovery
from app.compress.calibration import SCHEMES, Scheme
from app.compress.fake_quant import activation_ranges, fake_quantize, strip_fake_quantization
from app.compress.measure import agreement, logits_of
from app.compress.onnx_int8 import initializer_elements, quantize_static
from app.compress.recovery import RecoveryParams, recover
from app.params import Progress
from app.zoo import LoadedModel
from app.zoo.fast import export_onnx, onnx_runtime_forward

__all__ = ["StaticInt8", "StaticInt8Params"]


class StaticInt8Params(RecoveryParams):
    per_channel: bool = Field(True, description="One weight scale per output channel")
    calibration: Literal["minmax", "percentile", "entropy"] = Field(
        "minmax",
        description="minmax: no saturation; percentile: clip the rare outliers; entropy: the "
        "range whose 8-bit rounding loses the least information (KL divergence, TensorRT's rule)",
    )
    scheme: Scheme = Field(
        "affine",
        description="The activations' grid. affine: "
        + SCHEMES["affine"]
        + ". symmetric: "
        + SCHEMES["symmetric"]
        + ". Weights are symmetric int8 either way",
    )
    percentile: float = Field(99.99, ge=90.0, le=100.0, description="For the percentile rule")
    calibration_images: int = Field(32, ge=1, le=2000, description="Calibration images used")
    # Measured on the default model: 1e-4 took per-channel int8 from 90.6 % to 65.6 % agreement
    # (a few dozen images overfit), 1e-5 to 93.8 %.
    recovery_learning_rate: float = Field(1e-5, gt=0, le=0.1, description="Adam learning rate")


@RECIPES.register
class StaticInt8(Recipe):
    name = "int8_static"
    title = "int8 static (ONNX Runtime QDQ)"
    Params = StaticInt8Params

    def build(
        self,
        model: LoadedModel,
        data: CompressionData,
        params: StaticInt8Params,
        progress: Progress,
    ) -> CompressedModel:
        calibration = data.calibration[: params.calibration_images]
        network = editable_copy(model)
        progress(0, 3)

        def quantized(network_now: nn.Module) -> tuple[bytes, dict[str, tuple[float, float]]]:
            ranges = activation_ranges(
                network_now,
                calibration,
                params.calibration,
                params.percentile,
            )
            int8 = quantize_static(
                export_onnx(network_now, model.input_size),
                calibration,
                params.per_channel,
                params.calibration,
                params.percentile,
                params.scheme,
            )
            return int8, ranges

        artifact, ranges = quantized(network)
        forward = onnx_runtime_forward(artifact)
        twin = fake_quantize(network, ranges, params.per_channel, scheme=params.scheme)
        progress(1, 3)
        recovery = None
        if params.recovery_epochs:
            before = top1_agreement(model, forward, data.evaluation)
            started = time.perf_counter()
            losses = recover(twin, model.forward_logits, data.calibration, params)
            network = strip_fake_quantization(twin)
            artifact, ranges = quantized(network)
            forward = onnx_runtime_forward(artifact)
            twin = fake_quantize(network, ranges, params.per_channel, scheme=params.scheme)
            recovery = Recovery(
                epochs=params.recovery_epochs,
                seconds=time.perf_counter() - started,
                losses=losses,
                agreement_before=before,
                agreement_after=top1_agreement(model, forward, data.evaluation),
            )
        progress(2, 3)
        variant = as_variant(model, twin, forward, "ONNX Runtime int8", "int8 static")
        twin_agreement = agreement(
            logits_of(forward, data.evaluation), logits_of(variant.module, data.evaluation)
        )
        progress(3, 3)
        return self.package(
            params,
            variant,
            network,
            artifact,
            "onnx",
            gradient_note=(
                "gradient methods run on the fake-quantized float twin "
                f"(it agrees with the int8 engine on {twin_agreement:.0%} of the images)"
            ),
            recovery=recovery,
            details={
                "initializer_elements": initializer_elements(artifact),
                "twin_agreement": twin_agreement,
                "activation_ranges": len(ranges),
            },
        )
