"""What every compression recipe shares: its parameters, the data it may use, and the one result
type, `CompressedModel`."""

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import torch
from torch import nn

from app.compress._variants import weights_of
from app.compress.measure import count_parameters
from app.errors import UnknownRecipe
from app.params import Params as ParamsModel
from app.params import Progress
from app.registry import Registry
from app.zoo import LoadedModel
from app.zoo.fast import FastForward, export_onnx, onnx_runtime_forward

__all__ = ["RECIPES", "CompressedModel", "CompressionData", "Recipe", "Recovery"]


@dataclass(frozen=True)
class CompressionData:
    """Images a recipe may use: `calibration` (N, 3, H, W) pixels in [0, 1] for calibration and
    recovery, `evaluation` for the agreement a recipe reports about itself (before/after
    recovery, iterative steps). Both are model views of the same evaluation set's sources, with
    different augmentations."""

    calibration: torch.Tensor
    evaluation: torch.Tensor


@dataclass(frozen=True)
class Recovery:
    """A fine-tuning run that taught the compressed model to match the original's outputs."""

    epochs: int
    seconds: float
    losses: list[float]  # mean distillation loss per epoch
    agreement_before: float  # top-1 agreement with the original on the evaluation images
    agreement_after: float


@dataclass
class CompressedModel:
    """A variant of a loaded model.

    `model` runs it: `model.forward_logits` is the real compressed engine (int8 kernels,
    half precision, the pruned network), `model.module` is what gradient methods differentiate —
    the same network, or its fake-quantized float twin when the engine has no gradients
    (`gradient_note` says so). `artifact` is the file a user would ship (`artifact_format`).
    """

    recipe: str
    params: dict[str, Any]
    model: LoadedModel
    engine: str
    artifact: bytes
    artifact_format: str  # "onnx" or "safetensors"
    parameters: int
    nonzero_parameters: int
    gradient_note: str | None = None
    recovery: Recovery | None = None
    details: dict[str, Any] = field(default_factory=dict)  # recipe-specific measurements
    warnings: list[str] = field(default_factory=list)


class Recipe(ABC):
    name: ClassVar[str]
    title: ClassVar[str]
    Params: ClassVar[type[ParamsModel]]
    # How a variant's sparsity is read for the page's agreement-vs-sparsity chart: "zeros", the
    # share of its weights at zero; "removed", the share of the original's parameters taken out.
    sparsity: ClassVar[Literal["zeros", "removed"] | None] = None

    @abstractmethod
    def build(
        self, model: LoadedModel, data: CompressionData, params: Any, progress: Progress
    ) -> CompressedModel:
        """Compress a copy of `model`; `model` itself is never modified."""

    def restore_network(self, network: nn.Module, params: Any, input_size: int) -> nn.Module:
        """A saved variant's network before its weights are loaded (app/compress/saved.py):
        `network`, an editable copy of the original, reshaped as this recipe shapes it (the
        default keeps every tensor's shape)."""
        return network

    def restore_forward(
        self, module: nn.Module, artifact: Path, params: Any, input_size: int
    ) -> FastForward | None:
        """The engine a saved variant's forward passes run on: its ONNX artifact on ONNX
        Runtime, or (a safetensors artifact) `module` exported to ONNX Runtime."""
        if artifact.suffix == ".onnx":
            return onnx_runtime_forward(artifact.read_bytes())
        return onnx_runtime_forward(export_onnx(module, input_size))

    def package(
        self,
        params: ParamsModel,
        variant: LoadedModel,
        network: nn.Module,
        artifact: bytes,
        artifact_format: str,
        **optional: Any,
    ) -> CompressedModel:
        """This recipe's CompressedModel: `variant` (from `as_variant`), the parameter counts of
        `network`, the compressed network, and `artifact` in `artifact_format`. The engine is the
        variant's unless `optional` names another; `optional` also takes the fields with defaults
        (gradient_note, recovery, details, warnings)."""
        total, nonzero = count_parameters(weights_of(network))
        return CompressedModel(
            recipe=self.name,
            params=params.model_dump(mode="json"),
            model=variant,
            engine=optional.pop("engine", variant.engine),
            artifact=artifact,
            artifact_format=artifact_format,
            parameters=total,
            nonzero_parameters=nonzero,
            **optional,
        )


RECIPES: Registry[Recipe] = Registry("compression recipe", UnknownRecipe)
"""The only list of compression recipes: `@RECIPES.register` on the class adds it."""
