"""Integrated gradients (Sundararajan et al., ICML 2017).

raw = (x - x') · ∫₀¹ ∇f(x' + α(x - x')) dα, the integral by Gauss-Legendre quadrature (Captum's
default) or the trapezoid rule, in batches of `batch_size` points so memory stays bounded.
Completeness: raw.sum() ≈ f(x) - f(x'); the gap is reported when it exceeds 5 %.
raw: (3, H, W); map: (H, W) sum over channels, signed.
"""

from typing import Any, Literal

import numpy as np
import torch
from pydantic import Field

from app.baselines import Baseline, make_baseline
from app.explain._batching import paced_parts
from app.explain._gradients import input_gradient
from app.explain.base import METHODS, Attribution, Method
from app.params import Params, Progress
from app.zoo import LoadedModel

__all__ = ["IntegratedGradients", "quadrature"]

Rule = Literal["gausslegendre", "riemann_trapezoid"]


def quadrature(steps: int, rule: Rule) -> tuple[np.ndarray, np.ndarray]:
    """Points α in [0, 1] and weights summing to 1."""
    if rule == "gausslegendre":
        nodes, weights = np.polynomial.legendre.leggauss(steps)
        return (nodes + 1.0) / 2.0, weights / 2.0
    alphas = np.linspace(0.0, 1.0, steps)
    weights = np.full(steps, 1.0 / (steps - 1))
    weights[[0, -1]] /= 2.0
    return alphas, weights


class IntegratedGradientsParams(Params):
    # 64: on the default model the completeness gap on chelsea was 12 % at 32 steps, 1.4 % at 64.
    steps: int = Field(64, ge=2, le=1024, description="Points on the path from baseline to image")
    baseline: Baseline = Field("black", description="Where the path starts")
    rule: Rule = Field("gausslegendre", description="Quadrature rule for the path integral")
    batch_size: int = Field(16, ge=1, le=1024, description="Path points per backward pass")


@METHODS.register
class IntegratedGradients(Method):
    name = "integrated_gradients"
    title = "Integrated gradients"
    caption = (
        "Red: pixels that add to the score for '{label}' compared with a blank image; blue: "
        "pixels that take away from it."
    )
    reference = "Sundararajan, Taly & Yan, 2017"
    Params = IntegratedGradientsParams
    signed = True

    def attribute(
        self, model: LoadedModel, pixels: torch.Tensor, target: int, params: Any, progress: Progress
    ) -> Attribution:
        baseline = make_baseline(pixels, params.baseline, model)
        alphas, weights = quadrature(params.steps, params.rule)
        alpha = torch.tensor(alphas, dtype=pixels.dtype, device=pixels.device)
        weight = torch.tensor(weights, dtype=pixels.dtype, device=pixels.device)
        delta = pixels - baseline
        total = torch.zeros_like(pixels[0])
        for start, stop in paced_parts(params.steps, params.batch_size, progress):
            points = baseline + alpha[start:stop].view(-1, 1, 1, 1) * delta
            grads = input_gradient(model, points, target)
            total += (grads * weight[start:stop].view(-1, 1, 1, 1)).sum(dim=0)
        raw = total * delta[0]
        with torch.no_grad():
            logits = model.module(torch.cat([pixels, baseline]))[:, target]
        expected = float(logits[0] - logits[1])
        gap = abs(float(raw.sum()) - expected)
        warnings = []
        if gap > 0.05 * max(abs(expected), 1e-6):
            warnings.append(
                f"completeness gap {gap:.3g} on f(x) - f(baseline) = {expected:.3g}: "
                "use more steps for a faithful integral"
            )
        return Attribution(map=raw.sum(dim=0), raw=raw, warnings=warnings)
