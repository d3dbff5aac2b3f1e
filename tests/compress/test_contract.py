"""Every registered recipe, on the tiny models (a contract over the registry, so a new recipe is
covered the moment it registers): a working variant with finite logits of the right shape, the
same variant twice (artifact bit for bit), the original model and the data left exactly as they
were — also with recovery where a recipe offers it, and when the build is stopped half-way —
and explanations that run on the variant."""

import numpy as np
import pytest
import torch

from app.compress import RECIPES, compress
from app.compress.base import CompressedModel, CompressionData
from app.compress.data import build_evaluation_set
from app.errors import Cancelled, UnknownRecipe
from app.explain import explain
from app.params import parse_params
from app.zoo import LoadedModel
from tests.models import (
    TinyNet,
    assert_params_contract,
    assert_unchanged,
    fingerprint,
    loaded,
    normed,
)

RECIPE_NAMES = RECIPES.names()
QUICK = {"prune_iterative": {"step": 0.25}}
MODELS = {
    "tiny": lambda: loaded(TinyNet()),  # an in-place ReLU and a module called twice
    # BatchNorm: folding, the training flag, running statistics (no layer for Grad-CAM)
    "normed": lambda: normed(skip=True, grad_cam_layer=None),
}
# Each recipe as it is, and once more with one epoch of recovery where it offers recovery.
WITH_RECOVERY = [n for n in RECIPE_NAMES if "recovery_epochs" in RECIPES.get(n).Params.model_fields]
CASES = [(name, False) for name in RECIPE_NAMES] + [(name, True) for name in WITH_RECOVERY]
CASE_IDS = [f"{name}{'-recovery' if recovery else ''}" for name, recovery in CASES]


def _params(name: str, recovery: bool = False) -> dict:
    return {**QUICK.get(name, {}), **({"recovery_epochs": 1} if recovery else {})}


@pytest.fixture(scope="module")
def module_data(gallery: list) -> CompressionData:
    """The evaluation set, built once: both tiny models share their preprocessing."""
    evaluation = build_evaluation_set(
        MODELS["tiny"](), gallery, "gallery", augmentations=3, calibration_augmentations=4
    )
    return CompressionData(calibration=evaluation.calibration, evaluation=evaluation.pixels)


@pytest.fixture
def fresh(module_data: CompressionData):
    """A new model and a copy of the data for each test, so that a recipe that breaks the
    contract fails its own test and leaves nothing changed for the next one."""

    def build(model_name: str) -> tuple[LoadedModel, CompressionData]:
        data = CompressionData(
            calibration=module_data.calibration.clone(), evaluation=module_data.evaluation.clone()
        )
        return MODELS[model_name](), data

    return build


def test_registry_holds_every_recipe_in_menu_order(tiny: LoadedModel, data) -> None:
    assert RECIPE_NAMES == [
        "half_precision",
        "int8_dynamic",
        "int8_static",
        "prune_channels",
        "prune_iterative",
        "prune_magnitude",
        "simulated_quant",
    ]
    with pytest.raises(UnknownRecipe, match="int8_static"):
        compress(tiny, "int8_statik", {}, data)


@pytest.mark.parametrize("name", RECIPE_NAMES, ids=RECIPE_NAMES)
def test_params_are_described_have_defaults_and_refuse_unknown_names(name: str) -> None:
    assert_params_contract(RECIPES.get(name).Params, name)


@pytest.mark.parametrize("model_name", list(MODELS))
@pytest.mark.parametrize(("name", "recovery"), CASES, ids=CASE_IDS)
def test_contract_on_tiny_models(
    name: str, recovery: bool, model_name: str, fresh, pixels: torch.Tensor
) -> None:
    model, data = fresh(model_name)
    before = fingerprint(model.module)
    calibration, evaluation = data.calibration.clone(), data.evaluation.clone()
    steps: list[tuple[int, int]] = []
    torch.manual_seed(0)
    variant = compress(
        model, name, _params(name, recovery), data, lambda d, t: steps.append((d, t))
    )
    torch.manual_seed(12345)  # recipes draw from their own seeded generators, not the global one
    again = compress(model, name, _params(name, recovery), data)
    assert_unchanged(before, fingerprint(model.module))
    assert torch.equal(data.calibration, calibration) and torch.equal(data.evaluation, evaluation)

    assert isinstance(variant, CompressedModel) and variant.recipe == name
    assert variant.params == parse_params(
        RECIPES.get(name).Params, _params(name, recovery), name
    ).model_dump(mode="json")
    logits = variant.model.forward_logits(pixels[None].repeat(3, 1, 1, 1))
    assert logits.shape == (3, model.num_classes) and torch.isfinite(logits).all()
    assert 0 < variant.nonzero_parameters <= variant.parameters
    assert variant.artifact and variant.artifact_format in ("onnx", "safetensors")
    assert steps and steps[-1][0] == steps[-1][1]
    assert steps == sorted(steps, key=lambda step: step[0] / step[1])
    if variant.recovery is not None:  # prune_iterative recovers after each step, unreported
        assert recovery and len(variant.recovery.losses) == 1
        assert np.isfinite(variant.recovery.losses).all()
        assert 0 <= variant.recovery.agreement_before <= 1
        assert 0 <= variant.recovery.agreement_after <= 1
    # The variant's own module is left as every method expects a model: eval mode, frozen.
    assert not any(module.training for module in variant.model.module.modules())
    assert not any(p.requires_grad for p in variant.model.module.parameters())

    assert again.artifact == variant.artifact, "the same recipe built a different file"
    torch.testing.assert_close(
        again.model.forward_logits(data.evaluation), variant.model.forward_logits(data.evaluation)
    )

    # Gradients run on the variant's module (its float twin), forwards on its engine.
    for method, params in (("saliency", None), ("occlusion", {"window": 8, "stride": 8})):
        result = explain(variant.model, pixels, method, target=3, params=params)
        assert result.attribution.shape == (32, 32) and np.isfinite(result.attribution).all()
    if model.spec.grad_cam_layer is not None:
        result = explain(variant.model, pixels, "grad_cam", target=3)
        assert np.isfinite(result.attribution).all()


@pytest.mark.parametrize(("name", "recovery"), CASES, ids=CASE_IDS)
def test_model_unchanged_when_the_build_is_stopped(name: str, recovery: bool, fresh) -> None:
    """A cancelled job raises from the progress callback, inside the recipe's loop."""
    model, data = fresh("normed")
    before = fingerprint(model.module)

    def cancel(done: int, total: int) -> None:
        raise Cancelled("stopped by the test")

    with pytest.raises(Cancelled):
        compress(model, name, _params(name, recovery), data, cancel)
    assert_unchanged(before, fingerprint(model.module))
