import numpy as np
import pytest
import torch
from captum.attr import IntegratedGradients as CaptumIntegratedGradients

from app.explain import explain
from app.explain.integrated_gradients import quadrature


# Captum's trapezoid weights are 1/n with halved ends, summing to (n - 1)/n, not 1: its result
# is the trapezoid integral scaled by (n - 1)/n. Ours sums to 1, so compare after rescaling.
@pytest.mark.parametrize(
    ("rule", "captum_scale"), [("gausslegendre", 1.0), ("riemann_trapezoid", 20 / 19)]
)
def test_matches_captum_on_tiny_model(rule, captum_scale, tiny, pixels) -> None:
    ours = explain(
        tiny,
        pixels,
        "integrated_gradients",
        target=8,
        params={
            "steps": 20,
            "rule": rule,
            "baseline": "black",
            "batch_size": 6,
        },
    )
    reference = CaptumIntegratedGradients(tiny.module).attribute(
        pixels[None], baselines=torch.zeros(1, 3, 32, 32), target=8, n_steps=20, method=rule
    )[0]
    expected = reference.detach().numpy() * captum_scale
    np.testing.assert_allclose(ours.raw, expected, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(ours.attribution, ours.raw.sum(0), rtol=1e-6)


def test_quadrature_weights_sum_to_one() -> None:
    for rule in ("gausslegendre", "riemann_trapezoid"):
        alphas, weights = quadrature(17, rule)
        assert weights.sum() == pytest.approx(1.0)
        assert alphas.min() >= 0 and alphas.max() <= 1


def test_completeness_on_default_model(default_model, chelsea) -> None:
    """Σ attributions ≈ f(x) - f(baseline) within 5 % at 64 steps."""
    result = explain(
        default_model, chelsea, "integrated_gradients", target=285, params={"steps": 64}
    )
    with torch.no_grad():
        logits = default_model.module(torch.stack([chelsea, torch.zeros_like(chelsea)]))[:, 285]
    expected = float(logits[0] - logits[1])
    assert abs(float(result.raw.sum()) - expected) <= 0.05 * abs(expected)
    assert not any("completeness" in warning for warning in result.warnings)


def test_too_few_steps_warns(default_model, chelsea) -> None:
    result = explain(
        default_model, chelsea, "integrated_gradients", target=285, params={"steps": 4}
    )
    assert any("completeness gap" in warning for warning in result.warnings)
