"""Structured channel pruning with `torch-pruning` (Fang et al., "DepGraph", CVPR 2023): the
channels with the smallest L1 norm are removed from every prunable layer together with
everything that depends on them (BatchNorm, depthwise convolutions, the next layer's inputs),
so the tensors really shrink and the network runs faster. The classifier's outputs are kept.
Two criteria: plain L1 removes the same share from every layer; L1 normalised per layer ranks
the channels of all layers together by their L1 norm divided by their layer's mean, so that a
layer whose channels are alike keeps them and one with a few weak channels loses those.
Without recovery this usually destroys the model's predictions: use `recovery_epochs`."""

from typing import Literal

import torch
from pydantic import Field
from torch import nn

from app.compress._variants import as_variant, editable_copy
from app.compress.base import RECIPES, CompressedModel, CompressionData, Recipe
from app.compress.recovery import RecoveryParams, recover_scored
from app.params import Progress
from app.zoo import LoadedModel
from app.zoo.fast import export_onnx, onnx_runtime_forward

__all__ = ["ChannelPruning", "ChannelPruningParams", "prune_channels"]


class ChannelPruningParams(RecoveryParams):
    ratio: float = Field(0.3, ge=0.0, le=0.9, description="Fraction of channels removed per layer")
    round_to: int = Field(8, ge=1, le=64, description="Keep channel counts multiples of this")
    criterion: Literal["l1", "l1_normalized"] = Field(
        "l1",
        description="l1: each layer loses `ratio` of its channels, those of least L1 norm; "
        "l1_normalized: the network loses `ratio` of all its channels, ranked together by L1 "
        "norm over their layer's mean (no layer loses more than 90 %)",
    )
    recovery_epochs: int = Field(
        0, ge=0, le=50, description="Epochs of distillation from the original; 0 = no recovery"
    )


def prune_channels(
    network: nn.Module, size: int, ratio: float, round_to: int, criterion: str = "l1"
) -> nn.Module:
    """Remove `ratio` of the channels of `network` (in place; also returned). A channel's L1
    norm is torch-pruning's: the mean over its group (its filter, its BatchNorm scale, the next
    layers' input weights) of the summed |w|; "l1_normalized" divides it by its group's mean
    and ranks all groups together."""
    import torch_pruning

    classifiers = [m for m in network.modules() if isinstance(m, nn.Linear)]
    example = torch.zeros(1, 3, size, size)
    for parameter in network.parameters():
        parameter.requires_grad_(True)  # torch-pruning traces the graph through autograd
    try:
        pruner = torch_pruning.pruner.MagnitudePruner(
            network,
            example,
            importance=torch_pruning.importance.MagnitudeImportance(p=1, normalizer="mean"),
            pruning_ratio=ratio,
            global_pruning=criterion == "l1_normalized",
            max_pruning_ratio=0.9,
            ignored_layers=classifiers,
            round_to=round_to,
        )
        pruner.step()
    finally:
        for parameter in network.parameters():
            parameter.requires_grad_(False)
    return network


@RECIPES.register
class ChannelPruning(Recipe):
    name = "prune_channels"
    title = "Structured channel pruning"
    Params = ChannelPruningParams
    sparsity = "removed"

    def build(
        self,
        model: LoadedModel,
        data: CompressionData,
        params: ChannelPruningParams,
        progress: Progress,
    ) -> CompressedModel:
        network = prune_channels(
            editable_copy(model), model.input_size, params.ratio, params.round_to, params.criterion
        )
        recovery = None
        if params.recovery_epochs:
            recovery = recover_scored(model, network, data, params, progress)
        artifact = export_onnx(network, model.input_size)
        original_shapes = {name: tuple(p.shape) for name, p in model.module.named_parameters()}
        shrunk = sum(
            1
            for name, p in network.named_parameters()
            if original_shapes.get(name) != tuple(p.shape)
        )
        forward = onnx_runtime_forward(artifact)
        progress(1, 1)
        return self.package(
            params,
            as_variant(
                model, network, forward, "ONNX Runtime", f"{params.ratio:.0%} of channels removed"
            ),
            network,
            artifact,
            "onnx",
            recovery=recovery,
            details={"shrunk_tensors": shrunk},
        )

    def restore_network(
        self, network: nn.Module, params: ChannelPruningParams, input_size: int
    ) -> nn.Module:
        # The same original and ratio remove the same channels (by their L1 norms).
        return prune_channels(network, input_size, params.ratio, params.round_to, params.criterion)
