"""Iterative magnitude pruning: raise the sparsity step by step (optionally fine-tuning by
distillation after each step) and stop before the top-1 agreement with the original, measured
on the calibration images, drops by more than the maximum loss the user allows. The variant is
the last step within that loss; every step's agreement is reported (the sparsity curve)."""

import copy

from pydantic import Field

from app.compress._variants import as_variant, editable_copy, safetensors_bytes, top1_agreement
from app.compress.base import RECIPES, CompressedModel, CompressionData, Recipe
from app.compress.pruning import ScopeParameter, apply_masks, magnitude_masks
from app.compress.recovery import RecoveryParams, recover
from app.params import Progress
from app.zoo import LoadedModel
from app.zoo.fast import export_onnx, onnx_runtime_forward

__all__ = ["IterativePruning", "IterativePruningParams"]


class IterativePruningParams(RecoveryParams):
    step: float = Field(0.1, gt=0.0, le=0.5, description="Sparsity added per step")
    max_sparsity: float = Field(0.9, gt=0.0, le=1.0, description="Never prune beyond this")
    max_loss: float = Field(
        0.05,
        ge=0.0,
        le=1.0,
        description="Largest drop in top-1 agreement allowed (0.05 = 5 points)",
    )
    scope: ScopeParameter = "global"
    recovery_epochs: int = Field(
        0, ge=0, le=10, description="Distillation epochs after each step; 0 = none"
    )


@RECIPES.register
class IterativePruning(Recipe):
    name = "prune_iterative"
    title = "Iterative pruning under a loss budget"
    Params = IterativePruningParams

    def build(
        self,
        model: LoadedModel,
        data: CompressionData,
        params: IterativePruningParams,
        progress: Progress,
    ) -> CompressedModel:
        network = editable_copy(model)
        kept = copy.deepcopy(network)
        kept_sparsity = 0.0
        steps: list[dict[str, float]] = []
        count = round(params.max_sparsity / params.step + 1e-9)
        for index in range(1, count + 1):
            sparsity = min(params.max_sparsity, index * params.step)
            masks = magnitude_masks(network, sparsity, params.scope)
            apply_masks(network, masks)
            if params.recovery_epochs:
                recover(
                    network,
                    model.forward_logits,
                    data.calibration,
                    params,
                    after_step=lambda masks=masks: apply_masks(network, masks),  # type: ignore[misc]
                )
            score = top1_agreement(model, network, data.calibration)
            steps.append({"sparsity": sparsity, "agreement": score})
            progress(index, count)
            if 1.0 - score > params.max_loss:
                break
            kept, kept_sparsity = copy.deepcopy(network), sparsity
        progress(count, count)
        forward = onnx_runtime_forward(export_onnx(kept, model.input_size))
        note = f"{kept_sparsity:.0%} pruned iteratively"
        return self.package(
            params,
            as_variant(model, kept, forward, "ONNX Runtime", note),
            kept,
            safetensors_bytes(kept),
            "safetensors",
            engine="ONNX Runtime (dense kernels)",
            details={"steps": steps, "chosen_sparsity": kept_sparsity},
            warnings=[] if kept_sparsity else ["even the first step lost more than allowed"],
        )
