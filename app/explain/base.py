"""The result type and the base class every explanation method implements."""

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar

import numpy as np
import torch
from pydantic import AfterValidator

from app.errors import UnknownMethod
from app.explain._activation_rules import RowRule, RuleReport
from app.explain._gradients import channel_max_abs
from app.explain.shared_pass import GradientRequest, input_gradients, target_seed
from app.params import Params as ParamsModel
from app.params import Progress
from app.registry import Registry
from app.results import result_type
from app.zoo import LoadedModel

__all__ = [
    "METHODS",
    "Attribution",
    "Explanation",
    "GradientMethod",
    "Method",
    "MethodNames",
]


@dataclass
class Attribution:
    """What a method computes for one image.

    map: (H, W), aligned with the model input, larger = more evidence for the target.
    raw: the method's own output where it has one, e.g. (3, H, W) per-channel gradients.
    """

    map: torch.Tensor
    raw: torch.Tensor | None = None
    warnings: list[str] = field(default_factory=list)
    engine: str | None = None  # what ran the passes, when the method chose (else the default)


@result_type
@dataclass(frozen=True)
class Explanation:
    """One explanation of one class for one image by one method."""

    method: str
    model: str
    target: int
    target_label: str
    attribution: np.ndarray  # (H, W) float32
    raw: np.ndarray | None  # method-specific, e.g. (3, H, W)
    input: np.ndarray  # (3, H, W) float32 in [0, 1]: the pixels the model saw
    probs: np.ndarray  # (classes,) float32
    params: dict[str, Any]
    seconds: float
    signed: bool  # True when negative values mean evidence against the target
    device: str
    warnings: tuple[str, ...] = ()
    engine: str = "PyTorch"  # what ran the forward passes (see app/zoo/fast.py)

    def npz_arrays(self) -> dict[str, Any]:
        arrays: dict[str, Any] = {
            "input": self.input,
            "attribution": self.attribution,
            "target": np.int64(self.target),
            "probs": self.probs,
            "method": np.str_(self.method),
            "model": np.str_(self.model),
            "params": np.str_(json.dumps(self.params, sort_keys=True)),
            "seconds": np.float64(self.seconds),
            "warnings": np.str_(json.dumps(list(self.warnings))),
        }
        if self.raw is not None:
            arrays["raw"] = self.raw
        return arrays


class Method(ABC):
    """One explanation method. Subclasses set the class variables and implement `attribute`."""

    name: ClassVar[str]
    title: ClassVar[str]
    reference: ClassVar[str]
    caption: ClassVar[str] = "Red: the pixels this method ranks as most important for '{label}'."
    """What the colours mean, in one plain sentence; `{label}` becomes the explained class."""
    Params: ClassVar[type[ParamsModel]]
    signed: ClassVar[bool]
    in_default_panel: ClassVar[bool] = False  # ticked when the dashboard opens
    in_attack_panel: ClassVar[bool] = False  # ticked on the attack page (explains both images)
    forward_only: ClassVar[bool] = False  # only forward passes: may use the fast engine

    def supports(self, model: LoadedModel) -> str | None:
        """None when the method can run on this model, else the reason it cannot."""
        return None

    @abstractmethod
    def attribute(
        self,
        model: LoadedModel,
        pixels: torch.Tensor,
        target: int,
        params: Any,
        progress: Progress,
    ) -> Attribution:
        """pixels: (1, 3, H, W) in [0, 1] on the model's device; target: a class index."""


class GradientMethod(Method):
    """A method whose map comes from one input gradient, d logit[target] / d pixels with `rule`
    at every ReLU-family call (plain: none): it can share a batched pass with other such
    methods and attacks (app/explain/shared_pass.py, app/panel.py).

    raw: the (3, H, W) gradient; map: (H, W) max over channels of |raw|, >= 0. A method that
    needs another gradient or map overrides `gradient_request` or `from_gradient`.
    """

    rule: ClassVar[RowRule] = "plain"

    def gradient_request(self, model: LoadedModel, target: int, params: Any) -> GradientRequest:
        """The rule and output gradient this method needs."""
        return GradientRequest(self.rule, target_seed(target), ("logit", target))

    def from_gradient(
        self,
        model: LoadedModel,
        pixels: torch.Tensor,
        target: int,
        params: Any,
        gradient: torch.Tensor,
        report: RuleReport | None,
    ) -> Attribution:
        """The attribution from the (3, H, W) gradient; report: what the rules met."""
        return Attribution(
            map=channel_max_abs(gradient), raw=gradient, warnings=self.rule_warnings(report)
        )

    def rule_warnings(self, report: RuleReport | None) -> list[str]:
        """What the rule could not do on this model (none for the plain gradient)."""
        if self.rule == "plain" or report is None:
            return []
        return report.warnings("guided backprop" if self.rule == "guided" else "deconvnet")

    def attribute(
        self, model: LoadedModel, pixels: torch.Tensor, target: int, params: Any, progress: Progress
    ) -> Attribution:
        request = self.gradient_request(model, target, params)
        (gradient,), report = input_gradients(model, pixels, [request])
        progress(1, 1)
        return self.from_gradient(model, pixels, target, params, gradient, report)


METHODS: Registry[Method] = Registry("explanation method", UnknownMethod)
"""The only list of explanation methods: `@METHODS.register` on the class adds it."""


def _known_methods(names: list[str]) -> list[str]:
    for name in names:
        METHODS.get(name)  # UnknownMethod (404) names the choices
    return names


MethodNames = Annotated[list[str], AfterValidator(_known_methods)]
"""A Params field of registered method names; an unknown one is refused naming the choices."""
