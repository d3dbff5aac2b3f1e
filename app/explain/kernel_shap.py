"""KernelSHAP over superpixels (Lundberg & Lee, NeurIPS 2017).

Features are SLIC superpixels (Achanta et al., 2012). Coalitions are sampled exactly as Captum's
KernelShap does (all-on, all-off, then k ~ p(k) ∝ (M-1)/(k(M-k)) and a uniform subset of size k,
all from one seeded generator), missing superpixels take the baseline, and the SHAP values are the
weighted least-squares fit with intercept (weight 1e6 on the two end points, 1 elsewhere).
raw: (M,) one value per superpixel; map: (H, W) each pixel gets its superpixel's value, signed.
"""

from typing import Any

import numpy as np
import torch
from pydantic import Field

from app.baselines import Baseline, make_baseline
from app.explain._batching import batched_scores
from app.explain.base import METHODS, Attribution, Method
from app.params import Params, Progress
from app.zoo import LoadedModel

__all__ = ["KernelShap", "kernel_shap_coalitions", "solve_kernel_shap", "superpixels"]

_END_POINT_WEIGHT = 1e6


def superpixels(pixels: torch.Tensor, count: int, compactness: float) -> torch.Tensor:
    """(H, W) long tensor of SLIC labels 0..M-1 for (1, 3, H, W) pixels; a regular grid of about
    `count` cells when SLIC finds fewer than two regions (flat or noise-like images)."""
    from skimage.segmentation import slic

    image = pixels[0].permute(1, 2, 0).detach().cpu().double().numpy()
    labels = slic(image, n_segments=count, compactness=compactness, start_label=0, channel_axis=-1)
    _, dense = np.unique(labels, return_inverse=True)
    if dense.max() < 1:
        height, width = labels.shape
        side = max(2, round(count**0.5))
        rows = np.arange(height) * side // height
        cols = np.arange(width) * side // width
        dense = rows[:, None] * side + cols[None, :]
    return torch.from_numpy(dense.reshape(labels.shape)).to(pixels.device)


def kernel_shap_coalitions(features: int, samples: int, generator: torch.Generator) -> torch.Tensor:
    """(samples, features) 0/1 coalitions, drawn as Captum's kernel_shap_perturb_generator does."""
    counts = torch.arange(features, dtype=torch.float)
    probabilities = torch.tensor(features - 1) / (counts * (features - counts))
    probabilities[0] = 0.0
    rows = [torch.ones(features, dtype=torch.long), torch.zeros(features, dtype=torch.long)]
    while len(rows) < samples:
        chosen = int(torch.multinomial(probabilities, 1, True, generator=generator).item())
        values = torch.randn(1, features, generator=generator)
        threshold = torch.kthvalue(values, features - chosen).values.item()
        rows.append((values[0] > threshold).long())
    return torch.stack(rows[:samples])


def solve_kernel_shap(coalitions: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
    """Weighted least squares with intercept, in float64 on the scores' device (one batched
    solve, no Python loop); returns (M,)."""
    z = coalitions.to(device=scores.device, dtype=torch.float64)
    on = z.sum(dim=1)
    weights = torch.where((on == 0) | (on == z.shape[1]), _END_POINT_WEIGHT, 1.0)
    design = torch.cat([torch.ones_like(z[:, :1]), z], dim=1) * weights.sqrt()[:, None]
    target = (scores.double() * weights.sqrt())[:, None]
    # gelsd (SVD, rank-deficient designs allowed) exists on the CPU only; CUDA has gels.
    driver = "gelsd" if design.device.type == "cpu" else "gels"
    solution = torch.linalg.lstsq(design, target, driver=driver).solution
    return solution[1:, 0]


class KernelShapParams(Params):
    superpixels: int = Field(50, ge=2, le=1000, description="Target number of SLIC superpixels")
    compactness: float = Field(10.0, gt=0.0, le=1000.0, description="SLIC shape regularity")
    samples: int = Field(200, ge=3, le=100_000, description="Coalitions evaluated")
    baseline: Baseline = Field("mean", description="What a missing superpixel is filled with")
    seed: int = Field(0, ge=0, description="Random seed (same seed, same map)")
    batch_size: int | None = Field(
        None, ge=1, le=1024, description="Images per forward pass (empty: the device's)"
    )


@METHODS.register
class KernelShap(Method):
    name = "kernel_shap"
    title = "KernelSHAP"
    caption = (
        "Red: segments that add to the score for '{label}'; blue: segments that take away from "
        "it; the shares add up to the score."
    )
    reference = "Lundberg & Lee, 2017"
    Params = KernelShapParams
    signed = True
    in_default_panel = True
    forward_only = True

    def attribute(
        self, model: LoadedModel, pixels: torch.Tensor, target: int, params: Any, progress: Progress
    ) -> Attribution:
        segments = superpixels(pixels, params.superpixels, params.compactness)
        features = int(segments.max()) + 1
        generator = torch.Generator(device="cpu").manual_seed(params.seed)
        coalitions = kernel_shap_coalitions(features, params.samples, generator).to(pixels.device)
        baseline = make_baseline(pixels, params.baseline, model)

        # Coalitions repeat (sizes 1 and M-1 are the likeliest and have only M members each):
        # each distinct one is evaluated once (500 draws, seed 0: 437 distinct on 40 features).
        distinct, repeat = torch.unique(coalitions, dim=0, return_inverse=True)

        def masked(start: int, stop: int) -> torch.Tensor:
            keep = distinct[start:stop][:, segments].unsqueeze(1).to(pixels.dtype)
            return baseline + keep * (pixels - baseline)

        scores = batched_scores(
            model.forward_logits,
            len(distinct),
            masked,
            target,
            params.batch_size or model.forward_batch,
            progress,
        )[repeat]
        values = solve_kernel_shap(coalitions, scores).float()
        warnings = []
        if features < params.superpixels // 2:
            warnings.append(f"SLIC made {features} superpixels of the {params.superpixels} asked")
        return Attribution(map=values[segments], raw=values, warnings=warnings)
