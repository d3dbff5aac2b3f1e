"""Half precision, the simplest baseline: every weight and activation in float16 or bfloat16,
run by PyTorch. Half the file size; whether it is faster depends on the CPU's support."""

import copy
from pathlib import Path
from typing import Literal

import torch
from pydantic import Field

from app.compress._variants import as_variant, editable_copy, safetensors_bytes
from app.compress.base import RECIPES, CompressedModel, CompressionData, Recipe
from app.params import Params, Progress
from app.zoo import LoadedModel

__all__ = ["HalfPrecision", "HalfPrecisionParams"]

_DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16}


class HalfPrecisionParams(Params):
    dtype: Literal["bfloat16", "float16"] = Field("bfloat16", description="16-bit format")


class _HalfForward:
    def __init__(self, module: torch.nn.Module, dtype: torch.dtype) -> None:
        self._module = module
        self._dtype = dtype

    def __call__(self, pixels: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self._module(pixels.to(self._dtype)).float()


@RECIPES.register
class HalfPrecision(Recipe):
    name = "half_precision"
    title = "16-bit floats (float16 / bfloat16)"
    Params = HalfPrecisionParams

    def build(
        self,
        model: LoadedModel,
        data: CompressionData,
        params: HalfPrecisionParams,
        progress: Progress,
    ) -> CompressedModel:
        dtype = _DTYPES[params.dtype]
        half = editable_copy(model).to(dtype)
        # Gradients in float32 through weights rounded to 16 bits: the maths of the variant,
        # without half-precision backward kernels the CPU may lack.
        twin = editable_copy(model)
        with torch.no_grad():
            for parameter in twin.parameters():
                parameter.copy_(parameter.to(dtype).float())
        progress(1, 1)
        return self.package(
            params,
            as_variant(
                model, twin, _HalfForward(half, dtype), f"PyTorch {params.dtype}", params.dtype
            ),
            half,
            safetensors_bytes(half),
            "safetensors",
            gradient_note=f"gradient methods run in float32 on the {params.dtype}-rounded weights",
        )

    def restore_forward(
        self, module: torch.nn.Module, artifact: Path, params: HalfPrecisionParams, input_size: int
    ) -> _HalfForward:
        dtype = _DTYPES[params.dtype]
        return _HalfForward(copy.deepcopy(module).to(dtype), dtype)
