"""Unstructured L1-magnitude pruning at a chosen sparsity, globally or per layer, with optional
recovery by distillation (the pruned weights stay zero). The tensors keep their shapes: the
zeros make the file compress well but dense kernels do not skip them, so it is not faster."""

import zlib

from pydantic import Field

from app.compress._variants import as_variant, editable_copy, safetensors_bytes
from app.compress.base import RECIPES, CompressedModel, CompressionData, Recipe
from app.compress.pruning import ScopeParameter, apply_masks, magnitude_masks
from app.compress.recovery import RecoveryParams, recover_scored
from app.params import Progress
from app.zoo import LoadedModel
from app.zoo.fast import export_onnx, onnx_runtime_forward

__all__ = ["MagnitudePruning", "MagnitudePruningParams"]


class MagnitudePruningParams(RecoveryParams):
    sparsity: float = Field(0.3, ge=0.0, le=1.0, description="Fraction of weights set to zero")
    scope: ScopeParameter = "global"


@RECIPES.register
class MagnitudePruning(Recipe):
    name = "prune_magnitude"
    title = "Unstructured L1 pruning"
    Params = MagnitudePruningParams
    sparsity = "zeros"

    def build(
        self,
        model: LoadedModel,
        data: CompressionData,
        params: MagnitudePruningParams,
        progress: Progress,
    ) -> CompressedModel:
        network = editable_copy(model)
        masks = magnitude_masks(network, params.sparsity, params.scope)
        apply_masks(network, masks)
        recovery = None
        if params.recovery_epochs:
            recovery = recover_scored(
                model, network, data, params, progress, lambda: apply_masks(network, masks)
            )
        forward = onnx_runtime_forward(export_onnx(network, model.input_size))
        artifact = safetensors_bytes(network)
        progress(1, 1)
        return self.package(
            params,
            as_variant(model, network, forward, "ONNX Runtime", f"{params.sparsity:.0%} pruned"),
            network,
            artifact,
            "safetensors",
            engine="ONNX Runtime (dense kernels)",
            recovery=recovery,
            details={"zipped_bytes": len(zlib.compress(artifact, 6))},
        )
