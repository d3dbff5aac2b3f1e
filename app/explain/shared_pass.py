"""Input gradients for several one-pass methods in one batched forward and backward pass.

Saliency, guided backprop, deconvnet, the guided part of guided Grad-CAM and FGSM each need one
gradient of the same image: d (seed · logits) / d pixels with a backward rule at every
ReLU-family call. A shared pass stacks one copy of the image per distinct (rule, seed), runs the
model's gradient copy once (LoadedModel.gradient_module), gives each row its own rule
(_activation_rules) and its own seed, and returns every row's gradient. Each method computes its
own gradient the same way (one row), so a panel's maps equal the separate calls.
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
    """Each request's (3, H, W) gradient for (1, 3, H, W) pixels, from one batched pass; and
    what the rules met (None when every row is plain)."""
    keys = list(dict.fromkeys((request.rule, request.key) for request in requests))
    rows = {key: index for index, key in enumerate(keys)}
    first = {(r.rule, r.key): r for r in reversed(requests)}
    module = model.gradient_module
    inputs = model.gradient_inputs(pixels.detach().expand(len(keys), -1, -1, -1))
    rules: list[RowRule] = [rule for rule, _ in keys]
    report = None
    if all(rule == "plain" for rule in rules):
        logits = module(inputs)
    else:
        with activation_rules(module, rules) as report:
            logits = module(inputs)
    seeds = torch.stack([first[key].seed(logits[index].detach()) for index, key in enumerate(keys)])
    (grads,) = torch.autograd.grad(logits, inputs, grad_outputs=seeds.to(logits))
    return [grads[rows[(request.rule, request.key)]].contiguous() for request in requests], report
