"""Guided backprop and deconvnet: Captum where its rule applies (nn.ReLU only), closed forms for
ReLU6, functional and reused activations, and the default ReLU6 model."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from captum.attr import Deconvolution, GuidedBackprop
from torch import nn

from app.explain import explain
from tests.models import assert_unchanged, fingerprint, loaded


@pytest.mark.parametrize(
    ("method", "reference"), [("guided_backprop", GuidedBackprop), ("deconvnet", Deconvolution)]
)
def test_matches_captum_on_relu_modules(method, reference, relu_net, pixels) -> None:
    ours = explain(relu_net, pixels, method, target=6)
    expected = reference(relu_net.module).attribute(pixels[None], target=6)[0]
    np.testing.assert_allclose(ours.raw, expected.detach().numpy(), rtol=1e-5, atol=1e-7)
    assert ours.warnings == ()


class Relu6Pair(nn.Module):
    """y = V · relu6(U · x): small enough for the rule by hand. The ReLU6 module runs twice."""

    def __init__(self, functional: bool) -> None:
        super().__init__()
        self.u = nn.Linear(3 * 32 * 32, 20)
        self.v = nn.Linear(20, 10)
        self.act = nn.ReLU6(inplace=True)
        self.functional = functional

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hidden = self.u(x.flatten(1)) * 4.0  # spread pre-activations over both ReLU6 kinks
        first = F.relu6(hidden) if self.functional else self.act(hidden.clone())
        again = self.act(hidden.clone() - 3.0)  # the same module, a second call
        return self.v(first + again)


@pytest.mark.parametrize("functional", [False, True])
@pytest.mark.parametrize("method", ["guided_backprop", "deconvnet"])
def test_closed_form_on_relu6(method, functional, pixels) -> None:
    model = loaded(Relu6Pair(functional))
    network = model.network
    x = model.module.normalize(pixels[None]).flatten(1)
    hidden = (network.u(x) * 4.0)[0]
    top = network.v.weight[7]  # d logit_7 / d (first + again)
    positive = top.clamp(min=0)
    if method == "guided_backprop":
        through_first = positive * ((hidden > 0) & (hidden < 6))
        through_again = positive * ((hidden - 3 > 0) & (hidden - 3 < 6))
    else:
        through_first = through_again = positive
    grad_hidden = (through_first + through_again) * 4.0
    std = torch.tensor(model.preprocessing.std).view(3, 1, 1)
    expected = (grad_hidden @ network.u.weight).view(3, 32, 32) / std
    ours = explain(model, pixels, method, target=7)
    np.testing.assert_allclose(ours.raw, expected.detach().numpy(), rtol=1e-4, atol=1e-6)
    assert (ours.raw != explain(model, pixels, "saliency", target=7).raw).any()


def test_reaches_tensor_methods_and_inplace_functions(pixels) -> None:
    class Mixed(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = nn.Conv2d(3, 4, 3, padding=1)
            self.b = nn.Linear(4 * 32 * 32, 10)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = self.a(x)
            F.relu_(y)  # the in-place result is read through `y`
            return self.b(y.relu().flatten(1))

    model = loaded(Mixed())
    before = fingerprint(model.module)
    guided = explain(model, pixels, "guided_backprop", target=1)
    assert_unchanged(before, fingerprint(model.module))
    assert guided.warnings == ()
    # By hand: both relu calls see the conv output y, so the gradient reaching y is
    # relu(w) · 1[y > 0], pulled back through the conv and the normalisation.
    x = model.module.normalize(pixels[None]).requires_grad_(True)
    mask = model.network.a(x)[0] > 0
    upstream = model.network.b.weight[1].view(4, 32, 32).clamp(min=0) * mask
    (grad,) = torch.autograd.grad((model.network.a(x) * upstream).sum(), x)
    std = torch.tensor(model.preprocessing.std).view(3, 1, 1)
    np.testing.assert_allclose(guided.raw, (grad[0] / std).detach().numpy(), rtol=1e-4, atol=1e-6)


def test_activation_without_rule_is_reported(pixels) -> None:
    network = nn.Sequential(nn.Conv2d(3, 4, 3), nn.SiLU(), nn.Flatten(), nn.Linear(4 * 30 * 30, 10))
    model = loaded(network)
    result = explain(model, pixels, "guided_backprop", target=0)
    assert any("no rule for SiLU" in warning for warning in result.warnings)
    assert any("equals the plain gradient" in warning for warning in result.warnings)


def test_custom_swish_module_is_reported(pixels) -> None:
    class MemoryEfficientSwish(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x * torch.sigmoid(x)

    network = nn.Sequential(
        nn.Conv2d(3, 4, 3), nn.ReLU(), MemoryEfficientSwish(), nn.Flatten(), nn.Linear(3600, 10)
    )
    result = explain(loaded(network), pixels, "deconvnet", target=0)
    assert any("MemoryEfficientSwish" in warning for warning in result.warnings)


def test_default_model_differs_from_plain_gradient(default_model, chelsea) -> None:
    """Captum's GuidedBackprop hooks only nn.ReLU, so on this ReLU6 model it returns the plain
    gradient; ours applies the rule to every ReLU6 call."""
    guided = explain(default_model, chelsea, "guided_backprop", target=285)
    plain = explain(default_model, chelsea, "saliency", target=285)
    captum = GuidedBackprop(default_model.module).attribute(chelsea[None], target=285)[0]
    # The trap: Captum's "guided" map is the plain gradient (ours comes from the BatchNorm-folded
    # copy, which differs where a ReLU6 input sits within rounding of 0 or 6: 0.2 % of values).
    peak = np.abs(plain.raw).max()
    np.testing.assert_allclose(captum.numpy(), plain.raw, atol=0.02 * peak)
    assert np.corrcoef(captum.numpy().ravel(), plain.raw.ravel())[0, 1] > 0.9999
    assert guided.warnings == ()
    correlation = np.corrcoef(guided.raw.ravel(), plain.raw.ravel())[0, 1]
    assert correlation < 0.9
    assert not np.allclose(guided.raw, plain.raw, rtol=0.1, atol=1e-6)
