"""Input gradients for several one-pass methods in one batched forward and backward pass.

Saliency, guided backprop, deconvnet, the guided part of guided Grad-CAM and FGSM each need one
gradient of the same image: d (seed · logits) / d pixels with a backward rule at every
ReLU-family call. A shared pass stacks one copy of the image per distinct (rule, seed), runs the
model's gradient copy (LoadedModel.gradient_module) once for the plain rows and once for the rows
with a rule (each row its own rule, _activation_rules), each row with its own seed. Each method
computes its own gradient the same way (one row), so a panel's maps equal the separate calls.
"""

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass

import torch

from app.explain._activation_rules import RowRule, RuleReport, activation_rules
from app.zoo import LoadedModel

__all__ = ["GradientRequest", "input_gradients", "target_seed"]

Seed = Callable[[torch.Tensor], torch.Tensor]
"""(classes,) logits of the image -> (classes,) gradient of the quantity at the logits."""


@dataclass(frozen=True)
class GradientRequest:
    """One row: d (seed(logits) · logits) / d pixels with `rule`; equal keys share a row."""

    rule: RowRule
    seed: Seed
    key: Hashable


def target_seed(target: int) -> Seed:
    """The gradient of logit[target]."""

    def seed(logits: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.one_hot(torch.tensor(target), logits.shape[-1]).to(logits)

    return seed


def input_gradients(
    model: LoadedModel, pixels: torch.Tensor, requests: Sequence[GradientRequest]
) -> tuple[list[torch.Tensor], RuleReport | None]:
    """Each request's (3, H, W) gradient for (1, 3, H, W) pixels, and what the rules met (None
    when no row has one). Plain rows share one batched pass with PyTorch's own backward; rows
    with a rule share another (the rules' Python backward costs about 60 % more per row)."""
    keys = list(dict.fromkeys((request.rule, request.key) for request in requests))
    first = {(r.rule, r.key): r for r in reversed(requests)}
    gradients: dict[tuple[str, Hashable], torch.Tensor] = {}
    report = None
    plain = [key for key in keys if key[0] == "plain"]
    ruled = [key for key in keys if key[0] != "plain"]
    for group in (plain, ruled):
        if not group:
            continue
        module = model.gradient_module
        inputs = model.gradient_inputs(pixels.detach().expand(len(group), -1, -1, -1))
        if group is plain:
            logits = module(inputs)
        else:
            rules: list[RowRule] = [rule for rule, _ in group]
            with activation_rules(module, rules) as report:
                logits = module(inputs)
        seeds = torch.stack(
            [first[key].seed(logits[row].detach()) for row, key in enumerate(group)]
        )
        (grads,) = torch.autograd.grad(logits, inputs, grad_outputs=seeds.to(logits))
        for row, key in enumerate(group):
            gradients[key] = grads[row].contiguous()
    return [gradients[(request.rule, request.key)] for request in requests], report
