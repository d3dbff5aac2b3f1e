"""Backward rules for guided backprop and deconvnet, applied to every ReLU-family call.

The rules are applied per *call*, at the level of torch functions (a TorchFunctionMode), so they
reach `nn.ReLU`, `nn.ReLU6`, functional `relu`/`relu6`/`hardtanh(0, t)`, `Tensor.relu`, in-place
variants and modules that run several times per forward pass, without touching the model.

Rules, for y = clamp(x, 0, t) (t = inf for ReLU, 6 for ReLU6) and incoming gradient g:
- guided backprop (Springenberg et al., 2015): g⁺ · 1[0 < x < t]
- deconvnet (Zeiler & Fergus, 2014): g⁺ (the forward mask is ignored)

Activations without a defined rule (SiLU, GELU, Hardswish, ...) are counted, and the method
reports them instead of silently returning a plain gradient there.
"""

import math
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode

__all__ = ["RowRule", "Rule", "RuleReport", "activation_rules"]

Rule = Literal["guided", "deconvnet"]
RowRule = Literal["plain", "guided", "deconvnet"]


_ROW_CODES = {"plain": 0, "guided": 1, "deconvnet": 2}


class _ClampRule(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, high: float, rule: str | torch.Tensor) -> torch.Tensor:
        out = x.clamp(min=0.0) if math.isinf(high) else x.clamp(0.0, high)
        ctx.rule = rule
        if not isinstance(rule, str) or rule == "guided":
            ctx.save_for_backward((x > 0) & (x < high))
        return out

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, None, None]:
        if isinstance(ctx.rule, str):
            positive = grad.clamp(min=0.0)
            if ctx.rule == "guided":
                (mask,) = ctx.saved_tensors
                positive = positive * mask
            return positive, None, None
        # One rule per batch row (a shared pass): plain, guided or deconvnet. Row by row, so
        # each element is touched once (these tensors are large; where() over all rows for
        # every rule cost ~3× the whole backward pass).
        (mask,) = ctx.saved_tensors
        out = torch.empty_like(grad)
        for row, code in enumerate(ctx.rule.tolist()):
            if code == _ROW_CODES["plain"]:
                torch.mul(grad[row], mask[row], out=out[row])
            elif code == _ROW_CODES["guided"]:
                torch.mul(grad[row].clamp(min=0.0), mask[row], out=out[row])
            else:
                torch.clamp(grad[row], min=0.0, out=out[row])
        return out, None, None


def _relu(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[torch.Tensor, float, float, bool]:
    return args[0], 0.0, math.inf, bool(kwargs.get("inplace", args[1] if len(args) > 1 else False))


def _relu_inplace(
    args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[torch.Tensor, float, float, bool]:
    return args[0], 0.0, math.inf, True


def _relu6(
    args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[torch.Tensor, float, float, bool]:
    return args[0], 0.0, 6.0, bool(kwargs.get("inplace", args[1] if len(args) > 1 else False))


def _hardtanh(
    args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[torch.Tensor, float, float, bool]:
    names = ("input", "min_val", "max_val", "inplace")
    values = dict(zip(names, args, strict=False)) | kwargs
    return (
        values["input"],
        float(values.get("min_val", -1.0)),
        float(values.get("max_val", 1.0)),
        bool(values.get("inplace", False)),
    )


def _hardtanh_inplace(
    args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[torch.Tensor, float, float, bool]:
    x, low, high, _ = _hardtanh(args, kwargs)
    return x, low, high, True


_Parser = Callable[[tuple[Any, ...], dict[str, Any]], tuple[torch.Tensor, float, float, bool]]
_RELU_FAMILY: dict[Callable[..., Any], tuple[str, _Parser]] = {
    F.relu: ("relu", _relu),
    F.relu_: ("relu", _relu_inplace),
    torch.relu: ("relu", _relu),
    torch.relu_: ("relu", _relu_inplace),
    torch.Tensor.relu: ("relu", _relu),
    torch.Tensor.relu_: ("relu", _relu_inplace),
    F.relu6: ("relu6", _relu6),
    F.hardtanh: ("hardtanh", _hardtanh),
    F.hardtanh_: ("hardtanh", _hardtanh_inplace),
}
_NO_RULE: dict[Callable[..., Any], str] = {
    F.silu: "SiLU",
    F.gelu: "GELU",
    F.hardswish: "Hardswish",
    F.mish: "Mish",
    F.elu: "ELU",
    F.selu: "SELU",
    F.celu: "CELU",
    F.leaky_relu: "LeakyReLU",
    F.softplus: "Softplus",
    F.prelu: "PReLU",
    F.rrelu: "RReLU",
}
# Custom activation modules that run outside torch functions (e.g. a Swish autograd Function).
_CUSTOM_ACTIVATION = re.compile(r"swish|silu|gelu|mish", re.IGNORECASE)


class RuleReport:
    """Counts, by activation name, of calls that got the rule and calls that had none."""

    def __init__(self) -> None:
        self.applied: Counter[str] = Counter()
        self.unhandled: Counter[str] = Counter()

    def warnings(self, method: str) -> list[str]:
        notes = []
        if self.unhandled:
            listed = ", ".join(f"{name} ({count} calls)" for name, count in self.unhandled.items())
            notes.append(
                f"{method} has no rule for {listed}; gradients pass through these activations "
                "unchanged, so this map is partly a plain gradient"
            )
        if not self.applied:
            notes.append(
                f"no ReLU-family activation ran, so {method} equals the plain gradient here"
            )
        return notes


class _RuleMode(TorchFunctionMode):
    def __init__(self, rule: str | torch.Tensor, report: RuleReport) -> None:
        super().__init__()
        self.rule = rule
        self.report = report

    def __torch_function__(
        self,
        func: Callable[..., Any],
        types: Any,
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        kwargs = kwargs or {}
        family = _RELU_FAMILY.get(func)
        if family is not None:
            name, parse = family
            x, low, high, inplace = parse(args, kwargs)
            rows = self.rule if isinstance(self.rule, torch.Tensor) else None
            if low == 0.0 and high > 0.0 and (rows is None or x.shape[:1] == rows.shape):
                self.report.applied[name] += 1
                out = _ClampRule.apply(x, high, self.rule)
                if inplace:
                    # Keep the in-place contract for callers that read the input afterwards.
                    with torch.no_grad():
                        x.copy_(out)
                return out
            self.report.unhandled["Hardtanh"] += 1
        elif func in _NO_RULE:
            self.report.unhandled[_NO_RULE[func]] += 1
        return func(*args, **kwargs)


@contextmanager
def activation_rules(model: nn.Module, rule: Rule | Sequence[RowRule]) -> Iterator[RuleReport]:
    """Run forward passes inside the block with the rule on every ReLU-family call; with one
    rule per batch row ("plain" = the ordinary gradient), each row of a batch gets its own.

    Nothing on the model changes; the mode and the counting hooks are removed even on error.
    """
    chosen: str | torch.Tensor = (
        rule if isinstance(rule, str) else torch.tensor([_ROW_CODES[r] for r in rule])
    )
    report = RuleReport()
    handles = []
    owner = threading.get_ident()  # hooks are shared by concurrent jobs; the mode is per thread
    for module in model.modules():
        kind = type(module).__name__
        if _CUSTOM_ACTIVATION.search(kind) and not type(module).__module__.startswith("torch."):

            def count(_m: nn.Module, _i: object, _o: object, kind: str = kind) -> None:
                if threading.get_ident() == owner:
                    report.unhandled[kind] += 1

            handles.append(module.register_forward_hook(count))
    try:
        with _RuleMode(chosen, report):
            yield report
    finally:
        for handle in handles:
            handle.remove()
