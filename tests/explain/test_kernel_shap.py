import numpy as np
import pytest
import torch
from captum.attr import KernelShap as CaptumKernelShap

from app.explain import explain
from app.explain.kernel_shap import kernel_shap_coalitions, solve_kernel_shap, superpixels


def captum_kernel_shap(model, pixels, target, segments, samples, seed, baseline):
    torch.manual_seed(seed)
    return CaptumKernelShap(model.module).attribute(
        pixels[None],
        baselines=baseline,
        target=target,
        feature_mask=segments[None, None],
        n_samples=samples,
        perturbations_per_eval=16,
    )[0, 0]


def test_matches_captum_for_same_samples_and_seed(tiny, pixels) -> None:
    params = {"samples": 60, "superpixels": 12, "seed": 3, "baseline": "black"}
    ours = explain(tiny, pixels, "kernel_shap", target=4, params=params)
    segments = superpixels(pixels[None], 12, 10.0)
    reference = captum_kernel_shap(tiny, pixels, 4, segments, 60, 3, 0.0)
    np.testing.assert_allclose(ours.attribution, reference.numpy(), rtol=1e-3, atol=1e-5)


def test_matches_captum_on_default_model(default_model, chelsea) -> None:
    params = {"samples": 48, "superpixels": 16, "seed": 0, "baseline": "black"}
    ours = explain(default_model, chelsea, "kernel_shap", target=285, params=params)
    segments = superpixels(chelsea[None], 16, 10.0)
    reference = captum_kernel_shap(default_model, chelsea, 285, segments, 48, 0, 0.0)
    np.testing.assert_allclose(ours.attribution, reference.numpy(), rtol=1e-3, atol=1e-4)


def test_coalitions_start_with_all_and_none() -> None:
    coalitions = kernel_shap_coalitions(6, 50, torch.Generator().manual_seed(0))
    assert coalitions.shape == (50, 6)
    assert coalitions[0].all() and not coalitions[1].any()
    sizes = coalitions[2:].sum(1)
    assert ((sizes >= 1) & (sizes <= 5)).all()


def test_exact_on_an_additive_game() -> None:
    """If f(z) = c + Σ φᵢ zᵢ, the weighted fit recovers φ exactly: SHAP values of a linear game."""
    phi = torch.tensor([0.5, -1.0, 2.0, 0.0, 3.0], dtype=torch.float64)
    coalitions = kernel_shap_coalitions(5, 40, torch.Generator().manual_seed(1))
    scores = 0.7 + coalitions.double() @ phi
    np.testing.assert_allclose(
        solve_kernel_shap(coalitions, scores).numpy(), phi.numpy(), atol=1e-8
    )


def test_efficiency_on_default_model(default_model, chelsea) -> None:
    """Σ φ = f(x) - f(baseline): the end-point weights pin both ends of the fit."""
    result = explain(
        default_model,
        chelsea,
        "kernel_shap",
        target=285,
        params={"samples": 40, "superpixels": 20, "baseline": "black"},
    )
    with torch.no_grad():
        logits = default_model.module(torch.stack([chelsea, torch.zeros_like(chelsea)]))[:, 285]
    assert float(result.raw.sum()) == pytest.approx(float(logits[0] - logits[1]), rel=1e-3)


def test_superpixels_cover_the_image(chelsea) -> None:
    segments = superpixels(chelsea[None], 40, 10.0)
    assert segments.shape == (224, 224)
    count = int(segments.max()) + 1
    assert 20 <= count <= 60
    assert set(segments.unique().tolist()) == set(range(count))


def test_flat_image_falls_back_to_a_grid() -> None:
    segments = superpixels(torch.full((1, 3, 32, 32), 0.5), 16, 10.0)
    assert int(segments.max()) + 1 == 16
