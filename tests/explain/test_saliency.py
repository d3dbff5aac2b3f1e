import numpy as np
import torch
from captum.attr import Saliency as CaptumSaliency

from app.explain import explain
from tests.models import LinearNet, loaded


def test_matches_captum_on_tiny_model(tiny, pixels) -> None:
    ours = explain(tiny, pixels, "saliency", target=4)
    reference = CaptumSaliency(tiny.module).attribute(pixels[None], target=4, abs=False)[0]
    np.testing.assert_allclose(ours.raw, reference.numpy(), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(ours.attribution, reference.abs().amax(0).numpy(), rtol=1e-5)


def test_closed_form_on_linear_model(pixels) -> None:
    model = loaded(LinearNet())
    ours = explain(model, pixels, "saliency", target=2)
    std = torch.tensor(model.preprocessing.std).view(3, 1, 1)
    weights = model.network.fc.weight[2].view(3, 32, 32) / std  # d/dx of W·((x - mean) / std)
    np.testing.assert_allclose(ours.raw, weights.detach().numpy(), rtol=1e-5)


def test_matches_captum_on_default_model(default_model, chelsea) -> None:
    ours = explain(default_model, chelsea, "saliency", target=285)
    reference = CaptumSaliency(default_model.module).attribute(chelsea[None], target=285, abs=True)
    np.testing.assert_allclose(ours.attribution, reference[0].amax(0).numpy(), rtol=1e-4, atol=1e-8)
