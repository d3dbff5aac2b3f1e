"""Every registered method, on a tiny model and on the default model: a finite H×W map, the same
map twice, and the model left exactly as it was, also when the method is stopped half-way."""

import numpy as np
import pytest
import torch

from app.errors import BadParameter, BadTarget, Cancelled, UnknownMethod
from app.explain import METHODS, explain
from tests.models import assert_params_contract, assert_unchanged, fingerprint

# Small settings so the default model's contract runs in seconds.
QUICK = {
    "occlusion": {"window": 56, "stride": 56},
    "integrated_gradients": {"steps": 4},
    "kernel_shap": {"samples": 16, "superpixels": 12},
    "gradient_shap": {"samples": 4},
}
TINY = {
    "occlusion": {"window": 8, "stride": 4},
    "integrated_gradients": {"steps": 8},
    "kernel_shap": {"samples": 40, "superpixels": 10},
    "gradient_shap": {"samples": 8},
}
METHOD_NAMES = METHODS.names()


def test_registry_holds_every_method_of_the_contract_in_menu_order() -> None:
    assert METHOD_NAMES == [
        "occlusion",
        "saliency",
        "guided_backprop",
        "deconvnet",
        "grad_cam",
        "guided_grad_cam",
        "integrated_gradients",
        "kernel_shap",
        "gradient_shap",
    ]


@pytest.mark.parametrize("name", METHOD_NAMES)
def test_params_are_described_and_have_defaults(name: str) -> None:
    assert_params_contract(METHODS.get(name).Params, name)


@pytest.mark.parametrize("name", METHOD_NAMES)
def test_contract_on_tiny_model(name: str, tiny, pixels) -> None:
    before = fingerprint(tiny.module)
    first = explain(tiny, pixels, name, target=3, params=TINY.get(name))
    second = explain(tiny, pixels, name, target=3, params=TINY.get(name))
    assert_unchanged(before, fingerprint(tiny.module))
    assert first.attribution.shape == (32, 32)
    assert first.attribution.dtype == np.float32
    assert np.isfinite(first.attribution).all()
    assert np.abs(first.attribution).max() > 0
    np.testing.assert_array_equal(first.attribution, second.attribution)
    assert first.target == 3
    assert first.probs.shape == (10,)
    assert first.probs.sum() == pytest.approx(1.0, abs=1e-5)
    np.testing.assert_array_equal(first.input, pixels.numpy())
    assert first.seconds > 0
    if not first.signed:
        assert first.attribution.min() >= 0


@pytest.mark.parametrize("name", METHOD_NAMES)
def test_contract_on_default_model(name: str, default_model, chelsea) -> None:
    before = fingerprint(default_model.module)
    first = explain(default_model, chelsea, name, params=QUICK.get(name))
    second = explain(default_model, chelsea, name, params=QUICK.get(name))
    assert_unchanged(before, fingerprint(default_model.module))
    assert first.attribution.shape == (224, 224)
    assert np.isfinite(first.attribution).all()
    assert np.abs(first.attribution).max() > 0
    np.testing.assert_array_equal(first.attribution, second.attribution)
    assert first.target == 285  # the top-1 class, chosen when no target is given


@pytest.mark.parametrize("name", METHOD_NAMES)
def test_model_unchanged_when_method_is_stopped(name: str, tiny, pixels) -> None:
    """A cancelled job raises from the progress callback, inside the method's loop."""
    before = fingerprint(tiny.module)

    def cancel(done: int, total: int) -> None:
        raise Cancelled("stopped by the test")

    with pytest.raises(Cancelled):
        explain(tiny, pixels, name, target=1, params=TINY.get(name), progress=cancel)
    assert_unchanged(before, fingerprint(tiny.module))


@pytest.mark.parametrize("name", METHOD_NAMES)
def test_progress_reaches_one(name: str, tiny, pixels) -> None:
    seen: list[float] = []
    explain(tiny, pixels, name, params=TINY.get(name), progress=lambda d, t: seen.append(d / t))
    assert seen and seen[-1] == 1.0
    assert seen == sorted(seen)


def test_any_class_can_be_the_target(tiny, pixels) -> None:
    maps = [explain(tiny, pixels, "saliency", target=t).attribution for t in range(3)]
    assert not np.allclose(maps[0], maps[1])
    assert not np.allclose(maps[1], maps[2])


def test_bad_requests_are_refused(tiny, pixels) -> None:
    with pytest.raises(UnknownMethod, match="unknown explanation method 'nope'"):
        explain(tiny, pixels, "nope")
    with pytest.raises(BadTarget, match="out of range"):
        explain(tiny, pixels, "saliency", target=10)
    with pytest.raises(BadTarget):
        explain(tiny, pixels, "saliency", target=-1)
    with pytest.raises(BadParameter, match="window"):
        explain(tiny, pixels, "occlusion", params={"window": 0})
    with pytest.raises(BadParameter, match="stride must not exceed window"):
        explain(tiny, pixels, "occlusion", params={"window": 4, "stride": 8})
    with pytest.raises(BadParameter, match="larger than"):
        explain(tiny, pixels, "occlusion", params={"window": 64, "stride": 8})


def test_input_must_match_the_model(tiny) -> None:
    from app.errors import BadImage

    with pytest.raises(BadImage, match=r"\(3, 32, 32\)"):
        explain(tiny, torch.rand(3, 16, 16), "saliency")
    with pytest.raises(BadImage, match=r"\[0, 1\]"):
        explain(tiny, torch.full((3, 32, 32), 2.0), "saliency")


def test_method_that_does_not_fit_the_model_is_refused(tiny, pixels) -> None:
    from app.errors import UnsupportedMethod
    from app.explain import METHODS, Method
    from app.params import Params as NoParams

    @METHODS.register
    class NeedsBigInputs(Method):
        name = "needs_big_inputs"
        title = "Needs big inputs"
        reference = "test"
        Params = NoParams
        signed = False

        def supports(self, model):
            return None if model.input_size >= 224 else "it needs inputs of 224 pixels or more"

        def attribute(self, model, pixels, target, params, progress):
            raise AssertionError("never called on a model it does not support")

    try:
        with pytest.raises(UnsupportedMethod, match="cannot run on tiny: it needs"):
            explain(tiny, pixels, "needs_big_inputs")
    finally:
        METHODS.remove("needs_big_inputs")
