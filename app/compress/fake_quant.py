"""Fake quantization in PyTorch: the float "twin" of an int8 model, which gradient methods can
differentiate and quantization-aware recovery can train (Jacob et al., CVPR 2018).

Weights of every Conv2d and Linear are rounded to symmetric int8 (per output channel or per
tensor) on each forward pass; their inputs are rounded to asymmetric uint8 within calibrated
ranges. Rounding passes gradients straight through (inside the range), as in
`torch.fake_quantize_*`. The twin approximates ONNX Runtime's QDQ graph, which also quantizes
the inputs of additions and poolings; the lab measures how often the two agree.
"""

import copy
from collections.abc import Iterator
from typing import Literal

import numpy as np
import torch
from torch import nn
from torch.nn.utils import parametrize

from app.compress.calibration import Scheme, entropy_range, grid, mse_range

__all__ = [
    "FAKE_QUANTIZATION",
    "CalibrationRule",
    "activation_ranges",
    "fake_quantize",
    "layer_inputs",
    "quantizable_layers",
    "quantize_inputs",
    "strip_fake_quantization",
    "uint8_grid",
]

CalibrationRule = Literal["minmax", "percentile", "mse", "entropy"]
_SAMPLE = 200_000  # values kept per layer and batch for the rules that look at the values
FAKE_QUANTIZATION = "fake_quantization"
"""The attribute of a twin that says how it was made (fake_quantize's arguments, as JSON
values), so a saved variant's twin can be rebuilt from its float weights (app/compress/saved.py)."""


def quantizable_layers(module: nn.Module) -> Iterator[tuple[str, nn.Conv2d | nn.Linear]]:
    """(name, layer) for every Conv2d and Linear, in the order they were registered."""
    for name, layer in module.named_modules():
        if isinstance(layer, (nn.Conv2d, nn.Linear)):
            yield name, layer


def layer_inputs(
    module: nn.Module, pixels: torch.Tensor, names: set[str] | None = None, batch: int = 8
) -> Iterator[dict[str, torch.Tensor]]:
    """Per batch of `pixels`: the input of each quantizable layer (or of those in `names`)."""
    seen: dict[str, torch.Tensor] = {}
    handles = []
    for name, layer in quantizable_layers(module):
        if names is None or name in names:

            def hook(_: nn.Module, inputs: tuple[torch.Tensor, ...], name: str = name) -> None:
                seen[name] = inputs[0].detach()

            handles.append(layer.register_forward_pre_hook(hook))
    try:
        with torch.no_grad():
            for start in range(0, len(pixels), batch):
                seen.clear()
                module(pixels[start : start + batch])
                yield dict(seen)
    finally:
        for handle in handles:
            handle.remove()


def activation_ranges(
    module: nn.Module,
    pixels: torch.Tensor,
    rule: CalibrationRule,
    percentile: float = 99.99,
    names: set[str] | None = None,
) -> dict[str, tuple[float, float]]:
    """(low, high) of each quantizable layer's input over `pixels`: the extremes ("minmax", no
    saturation), the (100 - p, p) percentiles ("percentile", saturating the rare outliers), the
    least-squared-error or least-KL-divergence range ("mse", "entropy": app/compress/calibration.py)
    of a sample of the values that keeps each batch's extremes."""
    generator = np.random.default_rng(0)
    lows: dict[str, float] = {}
    highs: dict[str, float] = {}
    samples: dict[str, list[np.ndarray]] = {}
    for inputs in layer_inputs(module, pixels, names):
        for name, values in inputs.items():
            flat = values.float().cpu().numpy().ravel()
            lows[name] = min(lows.get(name, np.inf), float(flat.min()))
            highs[name] = max(highs.get(name, -np.inf), float(flat.max()))
            if rule != "minmax":
                extremes = flat[[flat.argmin(), flat.argmax()]]
                if flat.size > _SAMPLE:
                    flat = generator.choice(flat, _SAMPLE, replace=False)
                    if rule != "percentile":
                        flat = np.concatenate([flat, extremes])
                samples.setdefault(name, []).append(flat)
    if rule == "minmax":
        return {name: (lows[name], highs[name]) for name in lows}
    ranges = {}
    for name, parts in samples.items():
        collected = np.concatenate(parts)
        if rule == "mse":
            ranges[name] = mse_range(collected)
        elif rule == "entropy":
            ranges[name] = entropy_range(collected)
        else:
            ranges[name] = (
                float(np.percentile(collected, 100 - percentile)),
                float(np.percentile(collected, percentile)),
            )
    return ranges


def uint8_grid(low: float, high: float) -> tuple[float, int]:
    """(scale, zero point) of asymmetric uint8 over [low, high], widened to contain 0."""
    low, high = min(low, 0.0), max(high, 0.0)
    scale = max((high - low) / 255.0, 1e-8)
    return scale, int(np.clip(round(-low / scale), 0, 255))


class _FakeQuantizedWeight(nn.Module):
    def __init__(self, per_channel: bool) -> None:
        super().__init__()
        self.per_channel = per_channel

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        if self.per_channel:
            peak = weight.detach().abs().flatten(1).amax(1).clamp_min(1e-8)
            scale = (peak / 127.0).float()
            zero = torch.zeros_like(scale, dtype=torch.int32)
            return torch.fake_quantize_per_channel_affine(weight, scale, zero, 0, -127, 127)
        scale_value = float(weight.detach().abs().max().clamp_min(1e-8)) / 127.0
        return torch.fake_quantize_per_tensor_affine(weight, scale_value, 0, -127, 127)


def fake_quantize(
    module: nn.Module,
    ranges: dict[str, tuple[float, float]],
    per_channel: bool,
    layers: set[str] | None = None,
    activations: bool = True,
    scheme: Scheme = "affine",
) -> nn.Module:
    """A copy of `module` whose quantizable layers (or those in `layers`) compute with
    fake-quantized weights and inputs (8 bits on the `scheme` grid: uint8 with a zero point, or
    int8 scale only). `module` is not modified."""
    twin = copy.deepcopy(module)
    for name, layer in quantizable_layers(twin):
        if layers is not None and name not in layers:
            continue
        parametrize.register_parametrization(layer, "weight", _FakeQuantizedWeight(per_channel))
        if activations and name in ranges:
            quantize_inputs(layer, *ranges[name], scheme)
    setattr(
        twin,
        FAKE_QUANTIZATION,
        {
            "ranges": {name: [low, high] for name, (low, high) in ranges.items()},
            "per_channel": per_channel,
            "layers": None if layers is None else sorted(layers),
            "activations": activations,
            "scheme": scheme,
        },
    )
    return twin


def quantize_inputs(
    layer: nn.Module, low: float, high: float, scheme: Scheme = "affine", bits: int = 8
) -> None:
    """Round `layer`'s input to `bits` bits over [low, high] on each forward pass (a forward
    pre-hook; gradients pass straight through inside the range)."""
    scale, zero, q_min, q_max = grid(low, high, bits, scheme)

    def hook(_: nn.Module, inputs: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
        quantized = torch.fake_quantize_per_tensor_affine(inputs[0], scale, zero, q_min, q_max)
        return (quantized, *inputs[1:])

    layer.register_forward_pre_hook(hook)


def strip_fake_quantization(twin: nn.Module) -> nn.Module:
    """A plain copy of a fake-quantized twin: its float weights (as trained), no rounding."""
    plain = copy.deepcopy(twin)
    for _, layer in quantizable_layers(plain):
        if parametrize.is_parametrized(layer, "weight"):
            parametrize.remove_parametrizations(layer, "weight", leave_parametrized=False)
        layer._forward_pre_hooks.clear()
    if hasattr(plain, FAKE_QUANTIZATION):
        delattr(plain, FAKE_QUANTIZATION)
    return plain
