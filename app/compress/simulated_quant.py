"""Quantization simulated in PyTorch at any bit width, to see each choice on its own: weights
rounded to b bits (2–8), symmetric q = clamp(round(w/s), −2^(b−1), 2^(b−1)−1) or affine
q = clamp(round(w/s) + z, 0, 2^b−1), one scale per output channel or per tensor.

The weights are rounded once and kept as floats (fake quantization, Jacob et al., CVPR 2018),
so the network runs in float32 on PyTorch: it shows what the rounding costs in agreement, not
what it saves in time. With `activations`, each convolution's and the classifier's input is
also rounded to 8 bits within the range a calibration rule picks on the calibration images
(min/max, percentile, MSE or entropy: app/compress/calibration.py). The artifact holds what a
low-bit engine would load: the integer codes packed at b bits, the scales and zero points,
the remaining tensors in float32.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from pydantic import Field
from safetensors.torch import save
from torch import nn

from app.compress._variants import as_variant, editable_copy
from app.compress.base import RECIPES, CompressedModel, CompressionData, Recipe
from app.compress.calibration import SCHEMES, Scheme
from app.compress.fake_quant import (
    CalibrationRule,
    activation_ranges,
    quantizable_layers,
    quantize_inputs,
)
from app.params import Params, Progress
from app.zoo import LoadedModel

__all__ = ["QuantizedWeight", "SimulatedQuantization", "SimulatedQuantizationParams", "quantize"]

_RANGE = "input_range"  # the (low, high) buffer of a layer whose input is rounded


class SimulatedQuantizationParams(Params):
    weight_bits: int = Field(4, ge=2, le=8, description="Bits per weight, b (2 to 8)")
    scheme: Scheme = Field(
        "symmetric",
        description="symmetric: " + SCHEMES["symmetric"] + ". affine: " + SCHEMES["affine"],
    )
    per_channel: bool = Field(True, description="One scale per output channel (else per tensor)")
    activations: bool = Field(
        False, description="Also round each layer's input to 8 bits (off: weight-only)"
    )
    calibration: CalibrationRule = Field(
        "minmax",
        description="The activations' range: minmax, no saturation; percentile, clip the rare "
        "outliers; mse, least squared rounding error; entropy, least KL divergence (TensorRT)",
    )
    percentile: float = Field(99.99, ge=90.0, le=100.0, description="For the percentile rule")
    calibration_images: int = Field(32, ge=1, le=2000, description="Calibration images used")


@dataclass(frozen=True)
class QuantizedWeight:
    """A weight tensor on a b-bit grid: `codes` (integers in [q_min, q_max], its shape),
    `scale` and `zero` per output channel (or one each), and the float `dequantized` weight
    (codes − zero) · scale the network computes with."""

    dequantized: torch.Tensor
    codes: torch.Tensor
    scale: torch.Tensor
    zero: torch.Tensor
    q_min: int
    q_max: int


def quantize(weight: torch.Tensor, bits: int, scheme: Scheme, per_channel: bool) -> QuantizedWeight:
    """`weight` rounded to `bits` bits on the `scheme` grid (SCHEMES), per output channel (dim 0)
    or per tensor; each grid's range is the weights' own extremes, widened to contain 0."""
    rows = weight.detach().float()
    rows = rows.flatten(1) if per_channel and rows.dim() > 1 else rows.reshape(1, -1)
    low = rows.amin(1).clamp_max(0.0)
    high = rows.amax(1).clamp_min(0.0)
    if scheme == "symmetric":
        q_min, q_max = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
        scale = (torch.maximum(-low, high) / q_max).clamp_min(1e-12)
        zero = torch.zeros_like(scale)
    else:
        q_min, q_max = 0, 2**bits - 1
        scale = ((high - low) / q_max).clamp_min(1e-12)
        zero = torch.round(-low / scale).clamp(q_min, q_max)
    codes = torch.clamp(torch.round(rows / scale[:, None]) + zero[:, None], q_min, q_max)
    dequantized = (codes - zero[:, None]) * scale[:, None]
    return QuantizedWeight(
        dequantized=dequantized.reshape(weight.shape).to(weight.dtype),
        codes=codes.to(torch.int32).reshape(weight.shape),
        scale=scale,
        zero=zero.to(torch.int32),
        q_min=q_min,
        q_max=q_max,
    )


def _packed(codes: torch.Tensor, q_min: int, bits: int) -> torch.Tensor:
    """The codes, shifted to start at 0, as a bit stream of `bits` bits each (uint8 bytes)."""
    unsigned = (codes.flatten() - q_min).numpy().astype(np.uint8)
    stream = np.unpackbits(unsigned[:, None], axis=1)[:, 8 - bits :]
    return torch.from_numpy(np.packbits(stream.ravel()))


@RECIPES.register
class SimulatedQuantization(Recipe):
    name = "simulated_quant"
    title = "Simulated quantization (any bit width)"
    Params = SimulatedQuantizationParams

    def build(
        self,
        model: LoadedModel,
        data: CompressionData,
        params: SimulatedQuantizationParams,
        progress: Progress,
    ) -> CompressedModel:
        network = editable_copy(model)
        layers = dict(quantizable_layers(network))
        tensors: dict[str, torch.Tensor] = {}
        quantized_names = set()
        squared_error = squared_norm = 0.0
        with torch.no_grad():
            for index, (name, layer) in enumerate(layers.items()):
                weight = layer.weight
                rounded = quantize(weight, params.weight_bits, params.scheme, params.per_channel)
                squared_error += float(((rounded.dequantized - weight) ** 2).sum())
                squared_norm += float((weight**2).sum())
                weight.copy_(rounded.dequantized)
                key = f"{name}.weight"
                quantized_names.add(key)
                tensors[f"{key}.codes"] = _packed(rounded.codes, rounded.q_min, params.weight_bits)
                tensors[f"{key}.scale"] = rounded.scale.contiguous()
                if params.scheme == "affine":
                    tensors[f"{key}.zero_point"] = rounded.zero.contiguous()
                progress(index + 1, len(layers) + 1)
        ranges: dict[str, tuple[float, float]] = {}
        if params.activations:
            # Each layer's range is that of its input with the rounded weights upstream and
            # float activations; kept as a buffer, so that a saved variant restores its hooks.
            ranges = activation_ranges(
                network,
                data.calibration[: params.calibration_images],
                params.calibration,
                params.percentile,
            )
            for name, layer in layers.items():
                layer.register_buffer(_RANGE, torch.tensor(ranges.get(name, (np.nan, np.nan))))
            _round_inputs(network, params.scheme)
        for key, value in network.state_dict().items():
            if key not in quantized_names:
                tensors[key] = value.detach().float().contiguous()
        artifact = save(
            tensors,
            # One metadata key: safetensors writes a metadata map in no fixed order, and the same
            # recipe must build the same file.
            metadata={"quantization": f"{params.weight_bits}-bit {params.scheme}"},
        )
        weights = sum(layer.weight.numel() for layer in layers.values())
        progress(len(layers) + 1, len(layers) + 1)
        note = f"{params.weight_bits}-bit {params.scheme} weights" + (
            f", 8-bit inputs ({params.calibration})" if params.activations else ""
        )
        return self.package(
            params,
            as_variant(model, network, None, "PyTorch (fake-quantized)", note),
            network,
            artifact,
            "safetensors",
            details={
                "weight_bits": params.weight_bits,
                "packed_weight_bytes": sum(
                    int(tensors[f"{k}.codes"].numel()) for k in sorted(quantized_names)
                ),
                "float32_weight_bytes": 4 * weights,
                "relative_weight_error": (squared_error / max(squared_norm, 1e-12)) ** 0.5,
                "activation_ranges": len(ranges),
            },
        )

    def restore_network(
        self, network: nn.Module, params: SimulatedQuantizationParams, input_size: int
    ) -> nn.Module:
        if params.activations:  # places for the saved ranges
            for _, layer in quantizable_layers(network):
                layer.register_buffer(_RANGE, torch.full((2,), np.nan))
        return network

    def restore_forward(
        self,
        module: nn.Module,
        artifact: Path,
        params: SimulatedQuantizationParams,
        input_size: int,
    ) -> None:
        """The saved variant runs in PyTorch, as built: its rounded weights were saved, its
        input ranges are buffers."""
        _round_inputs(module, params.scheme)
        return None


def _round_inputs(network: nn.Module, scheme: Scheme) -> None:
    """Round each layer's input within its `_RANGE` buffer (where it has a finite one)."""
    for _, layer in quantizable_layers(network):
        bounds = getattr(layer, _RANGE, None)
        if bounds is not None and bool(torch.isfinite(bounds).all()):
            quantize_inputs(layer, float(bounds[0]), float(bounds[1]), scheme)
