"""Each attack's math against a reference: Captum's FGSM and PGD, the closed form of FGSM and of
the targeted attack on a linear model, and the default model really fooled. What every attack
must do (ε, [0, 1], determinism, the model left unchanged) is in test_contract.py."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from captum.robust import FGSM as CaptumFGSM
from captum.robust import PGD as CaptumPGD
from torch import nn

from app.attacks import attack
from tests.models import LinearNet, linear_gradient, loaded


def closed_form_fgsm(model, pixels, label, epsilon, targeted, network=None):
    x = pixels[None].clone().requires_grad_(True)
    loss = F.cross_entropy((network or model.module)(x), torch.tensor([label]))
    (grad,) = torch.autograd.grad(loss, x)
    step = -epsilon * grad.sign() if targeted else epsilon * grad.sign()
    return (x.detach() + step).clamp(0, 1)[0]


def captum_attack(kind, model, pixels, label, targeted, **kwargs):
    loss = nn.CrossEntropyLoss(reduction="none")
    label = torch.tensor([label])  # Captum hands the target to the loss as given
    # Captum leaves pixels with |gradient| <= 1e-6 unchanged (zero_thresh); the closed form
    # clip(x + ε·sign(∇)) moves every pixel with a non-zero gradient, so switch that off.
    if kind == "fgsm":
        attacker = CaptumFGSM(model.module, loss_func=loss, lower_bound=0.0, upper_bound=1.0)
        attacker.zero_thresh = 0.0
        return attacker.perturb(pixels[None], target=label, targeted=targeted, **kwargs)[0]
    attacker = CaptumPGD(model.module, loss_func=loss, lower_bound=0.0, upper_bound=1.0)
    attacker.fgsm.zero_thresh = 0.0
    return attacker.perturb(pixels[None], target=label, targeted=targeted, norm="Linf", **kwargs)[0]


@pytest.mark.parametrize("target", [None, 6])
def test_fgsm_closed_form_and_captum(target, tiny, pixels) -> None:
    label = int(tiny.probabilities(pixels[None]).argmax())
    result = attack(tiny, pixels, "fgsm", target=target, params={"epsilon": 0.05})
    aim = label if target is None else target
    expected = closed_form_fgsm(tiny, pixels, aim, 0.05, targeted=target is not None)
    np.testing.assert_allclose(result.adversarial, expected.numpy(), atol=1e-6)
    reference = captum_attack("fgsm", tiny, pixels, aim, target is not None, epsilon=0.05)
    np.testing.assert_allclose(result.adversarial, reference.detach().numpy(), atol=1e-6)
    assert np.abs(result.perturbation).max() <= 0.05 + 1e-6
    assert result.adversarial.min() >= 0 and result.adversarial.max() <= 1


def test_fgsm_flips_the_default_model(default_model, chelsea) -> None:
    epsilon = 8 / 255
    result = attack(default_model, chelsea, "fgsm", params={"epsilon": epsilon})
    twin = default_model.gradient_module  # the BatchNorm-folded copy gradients run on
    expected = closed_form_fgsm(default_model, chelsea, 285, epsilon, targeted=False, network=twin)
    # sign() of a gradient within rounding of 0 may go either way (1 value of 150,528 here).
    assert np.mean(np.abs(result.adversarial - expected.numpy()) > 1e-6) < 1e-4
    # On the model itself the sign differs only where the gradient is within rounding of 0.
    on_module = closed_form_fgsm(default_model, chelsea, 285, epsilon, targeted=False)
    assert np.mean(np.abs(result.adversarial - on_module.numpy()) > 1e-6) < 0.01
    assert result.label_before == 285
    assert result.label_after != 285 and result.success


@pytest.mark.parametrize("target", [None, 2])
def test_pgd_matches_captum(target, tiny, pixels) -> None:
    label = int(tiny.probabilities(pixels[None]).argmax())
    params = {"epsilon": 0.03, "steps": 7, "step_size": 0.01}
    result = attack(tiny, pixels, "pgd", target=target, params=params)
    aim = label if target is None else target
    reference = captum_attack(
        "pgd", tiny, pixels, aim, target is not None, radius=0.03, step_size=0.01, step_num=7
    )
    np.testing.assert_allclose(result.adversarial, reference.detach().numpy(), atol=1e-6)
    assert np.abs(result.perturbation).max() <= 0.03 + 1e-6


def test_targeted_closed_form_on_linear_model(pixels) -> None:
    """With λ = 0 the objective is logit[t] = w_t · x + b, linear in r: the optimum on the ε-box is
    r = ε · sign(w_t), clipped to valid pixels."""
    model = loaded(LinearNet())
    result = attack(
        model,
        pixels,
        "targeted",
        target=4,
        params={"epsilon": 0.05, "weight": 0.0, "steps": 40, "learning_rate": 0.01},
    )
    expected = (pixels + 0.05 * linear_gradient(model, 4).sign()).clamp(0, 1)
    np.testing.assert_allclose(result.adversarial, expected.numpy(), atol=1e-5)


def test_targeted_norm_price_shrinks_the_perturbation(pixels) -> None:
    model = loaded(LinearNet())
    free = attack(model, pixels, "targeted", target=4, params={"epsilon": 0.1, "weight": 0.0})
    priced = attack(model, pixels, "targeted", target=4, params={"epsilon": 0.1, "weight": 50.0})
    assert np.linalg.norm(priced.perturbation) < np.linalg.norm(free.perturbation)


def test_targeted_reaches_the_class_on_default_model(default_model, chelsea) -> None:
    result = attack(default_model, chelsea, "targeted", target=1, params={"epsilon": 8 / 255})
    assert result.label_after == 1 and result.success  # goldfish
    assert np.abs(result.perturbation).max() <= 8 / 255 + 1e-6
