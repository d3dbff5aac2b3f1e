"""GradientSHAP (Lundberg & Lee, NeurIPS 2017; as in Captum's GradientShap).

For each of `samples` draws: a baseline b from `baselines`, α ~ U(0, 1), x̃ = x + N(0, noise²);
attribution = mean of ∇f(b + α(x̃ - b)) · (x̃ - b). Expected-gradients approximation of SHAP values.
raw: (3, H, W); map: (H, W) sum over channels, signed.
"""

from typing import Any

import torch
from pydantic import Field, field_validator

from app.baselines import Baseline, make_baseline
from app.explain._batching import paced_parts
from app.explain._gradients import input_gradient
from app.explain.base import METHODS, Attribution, Method
from app.params import Params, Progress
from app.zoo import LoadedModel

__all__ = ["GradientShap"]


class GradientShapParams(Params):
    samples: int = Field(32, ge=1, le=2048, description="Random points to average gradients over")
    baselines: tuple[Baseline, ...] = Field(
        ("black", "white"), min_length=1, description="Baseline images drawn from at random"
    )
    noise: float = Field(0.0, ge=0.0, le=1.0, description="Std of Gaussian noise added to x")
    seed: int = Field(0, ge=0, description="Random seed (same seed, same map)")
    batch_size: int = Field(16, ge=1, le=1024, description="Points per backward pass")

    @field_validator("baselines", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        return tuple(part.strip() for part in value.split(",")) if isinstance(value, str) else value


@METHODS.register
class GradientShap(Method):
    name = "gradient_shap"
    title = "GradientSHAP"
    caption = (
        "Red: pixels that add to the score for '{label}' compared with blank or noisy "
        "references; blue: pixels that take away from it."
    )
    reference = "Lundberg & Lee, 2017"
    Params = GradientShapParams
    signed = True

    def attribute(
        self, model: LoadedModel, pixels: torch.Tensor, target: int, params: Any, progress: Progress
    ) -> Attribution:
        generator = torch.Generator(device="cpu").manual_seed(params.seed)
        references = torch.cat([make_baseline(pixels, kind, model) for kind in params.baselines])
        picks = torch.randint(len(params.baselines), (params.samples,), generator=generator)
        alphas = torch.rand(params.samples, generator=generator)
        noise = torch.randn((params.samples, *pixels.shape[1:]), generator=generator)
        total = torch.zeros_like(pixels[0])
        for start, stop in paced_parts(params.samples, params.batch_size, progress):
            chosen = references[picks[start:stop].to(pixels.device)]
            noisy = pixels + params.noise * noise[start:stop].to(pixels.device)
            alpha = alphas[start:stop].to(pixels.device).view(-1, 1, 1, 1)
            grads = input_gradient(model, chosen + alpha * (noisy - chosen), target)
            total += (grads * (noisy - chosen)).sum(dim=0)
        raw = total / params.samples
        return Attribution(map=raw.sum(dim=0), raw=raw)
