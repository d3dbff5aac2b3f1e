"""Each recipe's own claims on the tiny model: int8 weights, the sparsity it promises, shapes that
really shrink. What every recipe must do is in test_contract.py."""

import numpy as np
import onnx
import pytest
import torch
from safetensors.torch import load

from app.compress import compress
from app.compress.base import CompressionData
from app.compress.fake_quant import quantizable_layers
from app.compress.measure import agreement, logits_of
from app.compress.onnx_int8 import initializer_elements
from app.errors import BadParameter, UnknownRecipe
from app.zoo import LoadedModel


def test_unknown_recipe_and_bad_parameters_are_named(
    tiny: LoadedModel, data: CompressionData
) -> None:
    with pytest.raises(UnknownRecipe, match="int8_static"):
        compress(tiny, "int8_statik", {}, data)
    with pytest.raises(BadParameter, match="sparsity"):
        compress(tiny, "prune_magnitude", {"sparsity": 1.5}, data)


def _conv_weights(model: LoadedModel) -> int:
    return sum(layer.weight.numel() for _, layer in quantizable_layers(model.module))


@pytest.mark.parametrize("per_channel", [True, False])
def test_int8_static_ships_int8_weights_and_agrees_with_its_twin(
    per_channel: bool, tiny: LoadedModel, data: CompressionData
) -> None:
    variant = compress(tiny, "int8_static", {"per_channel": per_channel}, data)
    elements = initializer_elements(variant.artifact)
    assert elements.get("INT8", 0) >= _conv_weights(tiny)  # every conv and linear weight
    graph = onnx.load_from_string(variant.artifact).graph
    assert any(node.op_type == "DequantizeLinear" for node in graph.node)
    scales = [t for t in graph.initializer if t.name.endswith("weight_scale")]
    sizes = {int(np.prod(t.dims)) for t in scales}
    assert (max(sizes) > 1) == per_channel  # one scale per output channel, or one per tensor
    engine = logits_of(variant.model.forward_logits, data.evaluation)
    float_logits = logits_of(tiny.forward_logits, data.evaluation)
    assert np.abs((engine - float_logits).numpy()).max() < 0.2 * np.abs(float_logits.numpy()).max()
    assert variant.details["twin_agreement"] >= 0.75


def test_fake_quantized_twin_rounds_weights_like_symmetric_int8(
    tiny: LoadedModel, data: CompressionData
) -> None:
    variant = compress(tiny, "int8_static", {}, data)
    weight = tiny.module.network.conv2.weight
    scale = weight.abs().flatten(1).amax(1) / 127
    expected = (torch.round(weight / scale.view(-1, 1, 1, 1)).clamp(-127, 127)) * scale.view(
        -1, 1, 1, 1
    )
    assert torch.allclose(variant.model.module.network.conv2.weight, expected, atol=1e-7)


@pytest.mark.parametrize("scope", ["global", "per_layer"])
def test_magnitude_pruning_zeroes_the_promised_share_of_weights(
    scope: str, tiny: LoadedModel, data: CompressionData
) -> None:
    variant = compress(tiny, "prune_magnitude", {"sparsity": 0.5, "scope": scope}, data)
    layers = dict(quantizable_layers(variant.model.module))
    zeros = sum(int((layer.weight == 0).sum()) for layer in layers.values())
    assert zeros == pytest.approx(0.5 * _conv_weights(tiny), abs=len(layers))
    if scope == "per_layer":
        for layer in layers.values():
            assert float((layer.weight == 0).float().mean()) == pytest.approx(0.5, abs=0.02)
    state = load(variant.artifact)
    assert int((state["network.conv2.weight"] == 0).sum()) == int(
        (layers["network.conv2"].weight == 0).sum()
    )
    assert variant.parameters - variant.nonzero_parameters >= zeros


def test_pruning_everything_collapses_the_model(tiny: LoadedModel, data: CompressionData) -> None:
    variant = compress(tiny, "prune_magnitude", {"sparsity": 1.0}, data)
    logits = logits_of(variant.model.forward_logits, data.evaluation)
    assert torch.allclose(logits, logits[:1].expand_as(logits), atol=1e-5)  # one answer for all
    assert all(
        float(layer.weight.abs().sum()) == 0
        for _, layer in quantizable_layers(variant.model.module)
    )


def test_recovery_trains_the_pruned_model_and_keeps_its_zeros(
    tiny: LoadedModel, data: CompressionData
) -> None:
    plain = compress(tiny, "prune_magnitude", {"sparsity": 0.6}, data)
    recovered = compress(
        tiny,
        "prune_magnitude",
        {"sparsity": 0.6, "recovery_epochs": 8, "recovery_learning_rate": 3e-3},
        data,
    )
    assert recovered.nonzero_parameters <= plain.nonzero_parameters
    recovery = recovered.recovery
    assert recovery is not None and len(recovery.losses) == 8
    assert recovery.losses[-1] < recovery.losses[0]
    assert recovery.agreement_before == pytest.approx(
        agreement(
            logits_of(tiny.forward_logits, data.evaluation),
            logits_of(plain.model.forward_logits, data.evaluation),
        ),
        abs=1e-6,
    )


def test_quantization_aware_recovery_reports_before_and_after(
    tiny: LoadedModel, data: CompressionData
) -> None:
    variant = compress(tiny, "int8_static", {"per_channel": False, "recovery_epochs": 2}, data)
    assert variant.recovery is not None and len(variant.recovery.losses) == 2
    assert (
        0 <= variant.recovery.agreement_before <= 1 and 0 <= variant.recovery.agreement_after <= 1
    )
    assert initializer_elements(variant.artifact).get("INT8", 0) >= _conv_weights(tiny)


def test_channel_pruning_really_shrinks_the_tensors(
    tiny: LoadedModel, data: CompressionData
) -> None:
    variant = compress(tiny, "prune_channels", {"ratio": 0.5, "round_to": 1}, data)
    network = variant.model.module.network
    assert network.conv1.weight.shape[0] == 4 and network.conv2.weight.shape[0] == 8
    assert network.fc.weight.shape[0] == tiny.num_classes  # the classes are kept
    original = sum(p.numel() for p in tiny.module.parameters())
    assert variant.parameters == sum(p.numel() for p in network.parameters()) < original
    assert variant.details["shrunk_tensors"] > 0
    graph = onnx.load_from_string(variant.artifact).graph
    shapes = {t.name: list(t.dims) for t in graph.initializer}
    assert [4, 3, 3, 3] in shapes.values()


def test_iterative_pruning_stops_within_the_loss_budget(
    tiny: LoadedModel, data: CompressionData
) -> None:
    variant = compress(tiny, "prune_iterative", {"step": 0.2, "max_loss": 0.1}, data)
    steps = variant.details["steps"]
    chosen = variant.details["chosen_sparsity"]
    assert [s["sparsity"] for s in steps] == pytest.approx(
        [0.2 * (i + 1) for i in range(len(steps))]
    )
    within = [s for s in steps if 1 - s["agreement"] <= 0.1]
    assert chosen == (max(s["sparsity"] for s in within) if within else 0.0)
    assert len(steps) == len(within) + (len(steps) < 4 or 1 - steps[-1]["agreement"] > 0.1)
    generous = compress(
        tiny, "prune_iterative", {"step": 0.3, "max_loss": 1.0, "max_sparsity": 0.9}, data
    )
    assert generous.details["chosen_sparsity"] == pytest.approx(0.9)


def test_half_precision_halves_the_file(tiny: LoadedModel, data: CompressionData) -> None:
    for dtype in ("bfloat16", "float16"):
        variant = compress(tiny, "half_precision", {"dtype": dtype}, data)
        state = load(variant.artifact)
        assert {str(t.dtype) for t in state.values() if t.is_floating_point()} == {f"torch.{dtype}"}
        assert variant.engine == f"PyTorch {dtype}"


def test_dynamic_int8_quantizes_only_the_classifier(
    tiny: LoadedModel, data: CompressionData
) -> None:
    variant = compress(tiny, "int8_dynamic", {}, data)
    fc = tiny.module.network.fc.weight.numel()
    int8 = initializer_elements(variant.artifact).get("INT8", 0)
    assert fc <= int8 <= fc + 1  # the classifier's weights (and its zero point), no convolution
