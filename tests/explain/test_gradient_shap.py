import numpy as np
import torch
from captum.attr import GradientShap as CaptumGradientShap

from app.explain import explain
from tests.models import LinearNet, linear_gradient, loaded


def test_closed_form_on_linear_model(pixels) -> None:
    """Gradients of a linear model are constant, so with one baseline b and no noise the result is
    exactly ∇f · (x - b) for every sample."""
    model = loaded(LinearNet())
    result = explain(
        model,
        pixels,
        "gradient_shap",
        target=3,
        params={"samples": 5, "baselines": "black", "noise": 0.0},
    )
    expected = linear_gradient(model, 3) * pixels
    np.testing.assert_allclose(result.raw, expected.numpy(), rtol=1e-5, atol=1e-7)
    reference = CaptumGradientShap(model.module).attribute(
        pixels[None], baselines=torch.zeros(1, 3, 32, 32), target=3, n_samples=5
    )[0]
    np.testing.assert_allclose(result.raw, reference.detach().numpy(), rtol=1e-5, atol=1e-7)


def test_two_baselines_average_on_linear_model(pixels) -> None:
    model = loaded(LinearNet())
    result = explain(
        model,
        pixels,
        "gradient_shap",
        target=3,
        params={"samples": 400, "baselines": "black,white"},
    )
    weights = linear_gradient(model, 3)
    expected = weights * (pixels - 0.5)  # the mean of x - 0 and x - 1
    error = np.abs(result.raw - expected.numpy()).max() / np.abs(weights.numpy()).max()
    assert error < 0.1  # 400 draws of a fair coin: |share - 1/2| < 0.1 at > 5 sigma


def test_agrees_with_captum_in_expectation(tiny, pixels) -> None:
    """Different random streams, same estimator: many samples give strongly correlated maps."""
    ours = explain(
        tiny,
        pixels,
        "gradient_shap",
        target=1,
        params={"samples": 256, "baselines": "black,white", "noise": 0.05},
    )
    baselines = torch.stack([torch.zeros(3, 32, 32), torch.ones(3, 32, 32)])
    reference = CaptumGradientShap(tiny.module).attribute(
        pixels[None], baselines=baselines, target=1, n_samples=256, stdevs=0.05
    )[0]
    correlation = np.corrcoef(ours.raw.ravel(), reference.detach().numpy().ravel())[0, 1]
    assert correlation > 0.9
