"""Every registered attack, on the tiny models: adversarial pixels of the input's shape, within ε
of it in L∞ and inside [0, 1], finite probabilities that are the model's own on those pixels,
the same result twice, and the model left exactly as it was, also when the attack is stopped
half-way. A new attack is covered the moment it registers."""

import numpy as np
import pytest
import torch

from app.attacks import ATTACKS, attack
from app.errors import BadParameter, BadTarget, Cancelled, UnknownAttack
from app.panel import run_panel
from app.zoo import LoadedModel
from tests.models import (
    TinyNet,
    assert_params_contract,
    assert_unchanged,
    fingerprint,
    loaded,
    normed,
)

ATTACK_NAMES = ATTACKS.names()
EPSILON = 0.03
# Settings that make an attack use its random choices, so determinism is tested with a seed.
SEEDED = {"pgd": {"random_start": True, "seed": 4}}
MODELS = {
    "tiny": lambda: loaded(TinyNet()),  # an in-place ReLU and a module called twice
    "normed": lambda: normed(skip=True),  # BatchNorm: the training flag and running statistics
}
UNTARGETED = [name for name in ATTACK_NAMES if not ATTACKS.get(name).needs_target]
# Each attack aimed at class 1, and without a target where it allows one.
CASES = [(name, 1) for name in ATTACK_NAMES] + [(name, None) for name in UNTARGETED]
CASE_IDS = [
    f"{name}-{'untargeted' if target is None else f'target{target}'}" for name, target in CASES
]


def _params(name: str) -> dict:
    return {"epsilon": EPSILON, **SEEDED.get(name, {})}


def test_registry_holds_every_attack_in_menu_order(tiny: LoadedModel, pixels) -> None:
    assert ATTACK_NAMES == ["fgsm", "pgd", "targeted"]
    with pytest.raises(UnknownAttack, match="deepfool"):
        attack(tiny, pixels, "deepfool")


@pytest.mark.parametrize("name", ATTACK_NAMES, ids=ATTACK_NAMES)
def test_params_are_described_have_defaults_and_refuse_unknown_names(name: str) -> None:
    params = ATTACKS.get(name).Params
    assert "epsilon" in params.model_fields  # every attack is bounded by ε (AttackParams)
    assert_params_contract(params, name)


@pytest.mark.parametrize("model_name", list(MODELS))
@pytest.mark.parametrize(("name", "target"), CASES, ids=CASE_IDS)
def test_contract_on_tiny_models(
    name: str, target: int | None, model_name: str, pixels: torch.Tensor
) -> None:
    model = MODELS[model_name]()
    clean = pixels.clone()
    before = fingerprint(model.module)
    first = attack(model, pixels, name, target=target, params=_params(name))
    second = attack(model, pixels, name, target=target, params=_params(name))
    assert_unchanged(before, fingerprint(model.module))
    assert torch.equal(pixels, clean), "the input tensor was changed in place"

    assert first.method == name and first.target == target
    assert first.adversarial.shape == first.input.shape == (3, 32, 32)
    assert first.adversarial.dtype == np.float32
    assert np.isfinite(first.adversarial).all()
    np.testing.assert_array_equal(first.input, pixels.numpy())
    assert np.abs(first.perturbation).max() <= EPSILON + 1e-6
    assert first.adversarial.min() >= 0.0 and first.adversarial.max() <= 1.0
    assert not np.array_equal(first.adversarial, first.input), "ε > 0 moved no pixel"

    for probs in (first.probs_before, first.probs_after):
        assert probs.shape == (model.num_classes,) and np.isfinite(probs).all()
        assert probs.sum() == pytest.approx(1.0, abs=1e-5)
    on_adversarial = model.probabilities(torch.from_numpy(first.adversarial)[None])[0]
    np.testing.assert_allclose(first.probs_after, on_adversarial.numpy(), atol=1e-6)
    assert first.params["epsilon"] == EPSILON
    assert first.seconds > 0

    np.testing.assert_array_equal(first.adversarial, second.adversarial)
    np.testing.assert_array_equal(first.probs_after, second.probs_after)


@pytest.mark.parametrize("name", ATTACK_NAMES, ids=ATTACK_NAMES)
def test_the_same_seed_gives_the_same_result_whatever_the_global_generator(
    name: str, tiny: LoadedModel, pixels: torch.Tensor
) -> None:
    results = []
    for global_seed in (0, 12345):
        torch.manual_seed(global_seed)
        results.append(attack(tiny, pixels, name, target=1, params=_params(name)).adversarial)
    np.testing.assert_array_equal(results[0], results[1])


@pytest.mark.parametrize("name", ATTACK_NAMES, ids=ATTACK_NAMES)
def test_zero_epsilon_changes_no_pixel(name: str, tiny: LoadedModel, pixels) -> None:
    result = attack(tiny, pixels, name, target=1, params={**_params(name), "epsilon": 0.0})
    np.testing.assert_array_equal(result.adversarial, pixels.numpy())


@pytest.mark.parametrize("name", ATTACK_NAMES, ids=ATTACK_NAMES)
def test_model_unchanged_when_attack_is_stopped(name: str, pixels: torch.Tensor) -> None:
    """A cancelled job raises from the progress callback, inside the attack's loop."""
    model = normed(skip=True)
    before = fingerprint(model.module)

    def cancel(done: int, total: int) -> None:
        raise Cancelled("stopped by the test")

    with pytest.raises(Cancelled):
        attack(model, pixels, name, target=1, params=_params(name), progress=cancel)
    assert_unchanged(before, fingerprint(model.module))


@pytest.mark.parametrize("name", ATTACK_NAMES, ids=ATTACK_NAMES)
def test_progress_reaches_one(name: str, tiny: LoadedModel, pixels: torch.Tensor) -> None:
    seen: list[float] = []
    attack(
        tiny, pixels, name, target=1, params=_params(name), progress=lambda d, t: seen.append(d / t)
    )
    assert seen and seen[-1] == 1.0
    assert seen == sorted(seen)


@pytest.mark.parametrize("name", ATTACK_NAMES, ids=ATTACK_NAMES)
def test_a_target_is_required_where_declared_and_checked_everywhere(
    name: str, tiny: LoadedModel, pixels: torch.Tensor
) -> None:
    if ATTACKS.get(name).needs_target:
        with pytest.raises(BadTarget, match="needs a target"):
            attack(tiny, pixels, name, params=_params(name))
    with pytest.raises(BadTarget, match="out of range"):
        attack(tiny, pixels, name, target=tiny.num_classes, params=_params(name))
    with pytest.raises(BadParameter, match="epsilon"):
        attack(tiny, pixels, name, target=1, params={"epsilon": -1})


@pytest.mark.parametrize("name", UNTARGETED, ids=UNTARGETED)
def test_a_panel_gives_what_the_attack_gives_alone(name: str, pixels: torch.Tensor) -> None:
    """run_panel runs attacks untargeted, sharing one batched gradient pass with the methods
    when the attack offers a gradient request (app/panel.py); either way the pixels are the
    attack's own."""
    model = normed(skip=True)
    before = fingerprint(model.module)
    panel = run_panel(model, pixels, ["saliency"], [name], params={name: _params(name)})
    alone = attack(model, pixels, name, params=_params(name))
    assert_unchanged(before, fingerprint(model.module))
    together = panel.attacks[name]
    np.testing.assert_allclose(together.adversarial, alone.adversarial, atol=1e-6)
    np.testing.assert_allclose(together.probs_after, alone.probs_after, atol=1e-6)
    assert np.abs(together.perturbation).max() <= EPSILON + 1e-6
