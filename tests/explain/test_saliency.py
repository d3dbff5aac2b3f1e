import numpy as np
from captum.attr import Saliency as CaptumSaliency

from app.explain import explain
from tests.models import LinearNet, linear_gradient, loaded


def test_matches_captum_on_tiny_model(tiny, pixels) -> None:
    ours = explain(tiny, pixels, "saliency", target=4)
    reference = CaptumSaliency(tiny.module).attribute(pixels[None], target=4, abs=False)[0]
    np.testing.assert_allclose(ours.raw, reference.numpy(), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(ours.attribution, reference.abs().amax(0).numpy(), rtol=1e-5)


def test_closed_form_on_linear_model(pixels) -> None:
    model = loaded(LinearNet())
    ours = explain(model, pixels, "saliency", target=2)
    np.testing.assert_allclose(ours.raw, linear_gradient(model, 2).numpy(), rtol=1e-5)


def test_matches_captum_on_default_model(default_model, chelsea) -> None:
    ours = explain(default_model, chelsea, "saliency", target=285)
    # Same network (the BatchNorm-folded gradient copy): equal.
    twin = CaptumSaliency(default_model.gradient_module).attribute(
        chelsea[None], target=285, abs=True
    )
    np.testing.assert_allclose(ours.attribution, twin[0].amax(0).numpy(), rtol=1e-4, atol=1e-8)
    # The model itself: equal but where a ReLU6 input is within rounding of 0 or 6 (folding
    # moves it across): a few values on this photo, at most 2 % of the peak.
    reference = CaptumSaliency(default_model.module).attribute(chelsea[None], target=285, abs=True)
    expected = reference[0].amax(0).numpy()
    peak = expected.max()
    np.testing.assert_allclose(ours.attribution, expected, atol=0.02 * peak)
    assert np.mean(np.abs(ours.attribution - expected) > 1e-3 * peak) < 0.005
