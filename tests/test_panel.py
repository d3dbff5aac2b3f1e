"""run_panel(): the same results as separate calls, with the one-gradient methods and FGSM
sharing one batched pass."""

import numpy as np
import pytest
import torch

from app.attacks.engine import attack
from app.errors import BadParameter, UnknownMethod
from app.explain import explain
from app.explain._activation_rules import activation_rules
from app.panel import run_panel
from tests.models import assert_unchanged, fingerprint

SHARED = ["saliency", "guided_backprop", "deconvnet", "guided_grad_cam"]


def test_panel_equals_separate_calls(tiny, pixels) -> None:
    before = fingerprint(tiny.module)
    methods = [*SHARED, "grad_cam", "occlusion"]
    panel = run_panel(tiny, pixels, methods, ["fgsm", "pgd"], target=4)
    assert panel.shared == (*SHARED, "fgsm")
    for name in methods:
        alone = explain(tiny, pixels, name, target=4)
        together = panel.explanations[name]
        assert together.target == 4 and together.warnings == alone.warnings
        np.testing.assert_allclose(together.attribution, alone.attribution, rtol=1e-5, atol=1e-7)
    for name in ("fgsm", "pgd"):
        alone = attack(tiny, pixels, name)
        np.testing.assert_allclose(panel.attacks[name].adversarial, alone.adversarial, atol=1e-6)
        np.testing.assert_allclose(panel.attacks[name].probs_after, alone.probs_after, atol=1e-6)
    assert_unchanged(before, fingerprint(tiny.module))


def test_one_batch_per_kind_of_row_and_a_row_per_distinct_gradient(tiny, pixels) -> None:
    batches = []
    handle = tiny.gradient_module.register_forward_hook(
        lambda module, inputs, output: batches.append(inputs[0].shape[0])
    )
    try:
        run_panel(tiny, pixels, SHARED, ["fgsm"])
    finally:
        handle.remove()
    # Plain rows (saliency, FGSM's loss) in one batch, rows with a rule (guided, shared by guided
    # backprop and guided Grad-CAM; deconvnet) in another; the rest are single images
    # (prediction, Grad-CAM, FGSM's result).
    assert [size for size in batches if size > 1] == [2, 2]


def test_per_row_rules_equal_one_rule_at_a_time(tiny, pixels) -> None:
    x = pixels[None].expand(3, -1, -1, -1).clone().requires_grad_(True)
    with activation_rules(tiny.module, ["plain", "guided", "deconvnet"]):
        logits = tiny.module(x)
    (rows,) = torch.autograd.grad(logits[:, 1].sum(), x)
    expected = []
    for rule in ("guided", "deconvnet"):
        single = pixels[None].clone().requires_grad_(True)
        with activation_rules(tiny.module, rule):
            (grad,) = torch.autograd.grad(tiny.module(single)[0, 1], single)
        expected.append(grad[0])
    plain = pixels[None].clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(tiny.module(plain)[0, 1], plain)
    np.testing.assert_allclose(rows[0], grad[0], atol=1e-7)
    np.testing.assert_allclose(rows[1], expected[0], atol=1e-7)
    np.testing.assert_allclose(rows[2], expected[1], atol=1e-7)


def test_bad_requests_are_refused(tiny, pixels) -> None:
    with pytest.raises(UnknownMethod):
        run_panel(tiny, pixels, ["saliency", "nope"])
    with pytest.raises(BadParameter):
        run_panel(tiny, pixels, ["occlusion"], params={"occlusion": {"window": -1}})


def test_default_model_panel_equals_separate_calls(default_model, chelsea) -> None:
    panel = run_panel(default_model, chelsea, [*SHARED, "grad_cam"], ["fgsm"])
    for name in [*SHARED, "grad_cam"]:
        alone = explain(default_model, chelsea, name)
        peak = np.abs(alone.attribution).max()
        np.testing.assert_allclose(
            panel.explanations[name].attribution, alone.attribution, atol=1e-4 * peak
        )
    assert panel.attacks["fgsm"].label_after != 285
