"""The quantization choices against references: the b-bit quantizer against hand-rounded
weights, the entropy calibrator against ONNX Runtime's on the same histograms, the two grids'
formulas, and the channel-pruning criteria against a hand-computed ranking on a tiny conv."""

import numpy as np
import onnx
import pytest
import torch
from onnxruntime.quantization.calibrate import HistogramCollector
from torch import nn

from app.compress import RECIPES, compress
from app.compress._variants import editable_copy
from app.compress.base import CompressionData
from app.compress.calibration import entropy_range, entropy_window, grid, mse_range
from app.compress.fake_quant import activation_ranges, layer_inputs, quantizable_layers
from app.compress.measure import agreement, logits_of
from app.compress.prune_channels import prune_channels
from app.compress.simulated_quant import quantize
from app.params import parse_params
from app.zoo import LoadedModel

WEIGHT = torch.tensor([[0.9, -0.3, 0.1, -1.0], [0.25, 0.4, -0.05, 0.0]])


@pytest.mark.parametrize(
    ("bits", "scheme", "per_channel", "expected"),
    [
        # symmetric, s = max|w| / 7: row 0 → 6.3, −2.1, 0.7, −7; row 1 → 4.375, 7, −0.875, 0
        (4, "symmetric", True, [[6 / 7, -2 / 7, 1 / 7, -1.0], [0.4 * 4 / 7, 0.4, -0.4 / 7, 0]]),
        # s = max|w| / 1, codes in [−2, 1]: 0.9 → 1, −0.3 → 0, 0.1 → 0; 0.625 → 1, −0.125 → 0
        (2, "symmetric", True, [[1.0, 0.0, 0.0, -1.0], [0.4, 0.4, 0.0, 0.0]]),
        # one scale for the tensor, s = 1: row 1 rounds to zeros
        (2, "symmetric", False, [[1.0, 0.0, 0.0, -1.0], [0.0, 0.0, 0.0, 0.0]]),
        # affine row 0: s = 1.9 / 15, z = round(7.89) = 8; codes 15, 6, 9, 0 (−7.89 → −8);
        # row 1 in test_affine_row_one_by_hand
        (
            4,
            "affine",
            True,
            [[7 * 1.9 / 15, -2 * 1.9 / 15, 1.9 / 15, -8 * 1.9 / 15], [0.24, 0.39, -0.06, 0.0]],
        ),
        # affine row 0: s = 1.9 / 3, z = round(1.58) = 2; −1 → round(−1.58) + 2 = 0 → −2s;
        # row 1: s = 0.15, z = round(0.33) = 0: 1.67 → 2, 2.67 → 3, −0.33 → 0
        (2, "affine", True, [[1.9 / 3, 0.0, 0.0, -2 * 1.9 / 3], [0.3, 0.45, 0.0, 0.0]]),
    ],
)
def test_low_bit_quantizer_matches_hand_rounded_weights(
    bits: int, scheme: str, per_channel: bool, expected: list
) -> None:
    result = quantize(WEIGHT, bits, scheme, per_channel)  # type: ignore[arg-type]
    torch.testing.assert_close(result.dequantized, torch.tensor(expected), atol=1e-6, rtol=0)
    assert result.codes.min() >= result.q_min and result.codes.max() <= result.q_max
    assert result.q_max - result.q_min == 2**bits - 1


def test_affine_row_one_by_hand() -> None:
    # row 1 of the 4-bit affine case: low = −0.05, high = 0.4, s = 0.45 / 15 = 0.03,
    # z = round(0.05 / 0.03) = 2; 0.25 / 0.03 = 8.33 → 8 + 2 = 10 → 8 s = 0.24
    result = quantize(WEIGHT[1:], 4, "affine", True)
    assert result.codes.tolist() == [[10, 15, 0, 2]]
    torch.testing.assert_close(
        result.dequantized, torch.tensor([[0.24, 0.39, -0.06, 0.0]]), atol=1e-6, rtol=0
    )


def test_grids_follow_their_formulas() -> None:
    scale, zero, low, high = grid(-1.0, 3.0, 8, "affine")
    assert (scale, zero, low, high) == (pytest.approx(4 / 255), 64, 0, 255)  # round(63.75)
    scale, zero, low, high = grid(-1.0, 3.0, 8, "symmetric")
    assert (scale, zero, low, high) == (pytest.approx(3 / 127), 0, -128, 127)
    assert grid(0.5, 2.0, 4, "affine")[:2] == (pytest.approx(2 / 15), 0)  # widened to contain 0


def _ort_threshold(counts: np.ndarray, edges: np.ndarray, values: np.ndarray, bins: int) -> tuple:
    collector = HistogramCollector("entropy", False, len(counts), bins, None, None)
    low, high, top = values.min(), values.max(), np.abs(values).max()
    return collector.get_entropy_threshold((counts, edges, low, high, top), bins)


@pytest.mark.parametrize("seed", range(2))
def test_entropy_calibration_matches_onnx_runtime_on_the_same_histogram(seed: int) -> None:
    generator = np.random.default_rng(seed)
    values = generator.normal(0, 1, 50_000)
    if seed % 2:
        values = np.maximum(values, 0)  # after a ReLU: half the histogram empty
    values = np.concatenate([values, generator.normal(0, 1, 10) * (8 + seed)])  # outliers
    top = np.abs(values).max()
    counts, edges = np.histogram(values, 2048, range=(-top, top))
    low, high = _ort_threshold(counts, edges, values, 128)
    window = entropy_window(counts, 128)
    assert edges[1024 - window] == pytest.approx(float(low))
    assert min(edges[1024 + window + 1], values.max()) == pytest.approx(float(high))
    assert entropy_range(values) == (
        pytest.approx(max(float(low), values.min())),
        pytest.approx(float(high)),
    )


def test_entropy_clips_a_far_outlier_and_mse_rounds_closer_than_min_max() -> None:
    values = np.concatenate([np.random.default_rng(0).normal(0, 1, 50_000), [20.0]])
    low, high = entropy_range(values)
    assert -5 < low < -3 and 3 < high < 6  # min/max would keep 20

    def error(low: float, high: float) -> float:  # uint8 with a zero point, by the formula
        scale = (high - low) / 255
        zero = round(-low / scale)
        rounded = (np.clip(np.round(values / scale) + zero, 0, 255) - zero) * scale
        return float(np.mean((rounded - values) ** 2))

    assert error(*mse_range(values)) <= error(values.min(), values.max())
    assert error(*mse_range(values)) <= error(low, high)


def _tiny_conv() -> nn.Module:
    """conv1 (3 → 4) → ReLU → conv2 (4 → 4) → ReLU → pool → linear (4 → 2), by hand: conv1's
    filters have L1 norms 30, 30, 3, 2; conv2's are 0.1 everywhere but filter 0 (0.09)."""
    network = nn.Sequential(
        nn.Conv2d(3, 4, 1, bias=False),
        nn.ReLU(),
        nn.Conv2d(4, 4, 1, bias=False),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(4, 2, bias=False),
    )
    with torch.no_grad():
        network[0].weight.copy_(
            torch.tensor([10.0, 10, 1, 2 / 3]).repeat_interleave(3).view(4, 3, 1, 1)
        )
        second = torch.full((4, 4), 0.1)
        second[0] = 0.09
        network[2].weight.copy_(second.view(4, 4, 1, 1))
        network[6].weight.fill_(1.0)
    return network.eval()


def test_channel_pruning_criteria_rank_channels_as_computed_by_hand() -> None:
    # A channel's importance: the mean of its L1 norms in its group. conv1's channel c: its
    # filter and conv2's input weights (0.09 + 3 · 0.1 = 0.39): 15.195, 15.195, 1.695, 1.195;
    # over their mean 8.32: 1.83, 1.83, 0.204, 0.144. conv2's channel c: its filter (0.36 or
    # 0.4) and the classifier's inputs (2): 1.18, 1.2, 1.2, 1.2; over their mean: 0.987, 1.004.
    # Plain L1, 25 % per layer: conv1 loses channel 3, conv2 channel 0. Normalised, 25 % of
    # all 8 channels: the two least, conv1's channels 2 and 3; conv2 keeps all four.
    plain = prune_channels(_tiny_conv(), 8, 0.25, 1, "l1")
    assert plain[0].weight.flatten(1).sum(1).tolist() == pytest.approx([30, 30, 3])
    assert plain[2].weight.shape[0] == 3 and torch.all(plain[2].weight == 0.1)
    normalised = prune_channels(_tiny_conv(), 8, 0.25, 1, "l1_normalized")
    assert normalised[0].weight.flatten(1).sum(1).tolist() == pytest.approx([30, 30])
    assert tuple(normalised[2].weight.shape) == (4, 2, 1, 1)
    assert normalised[2].weight[:, :, 0, 0][:, 0].tolist() == pytest.approx([0.09, 0.1, 0.1, 0.1])


def test_fewer_bits_lose_more_and_the_file_shrinks(
    tiny: LoadedModel, data: CompressionData
) -> None:
    reference = logits_of(tiny.forward_logits, data.evaluation)
    variants = {
        bits: compress(tiny, "simulated_quant", {"weight_bits": bits}, data) for bits in (8, 2)
    }
    errors = {bits: v.details["relative_weight_error"] for bits, v in variants.items()}
    assert errors[8] < 0.01 < errors[2]
    assert agreement(reference, logits_of(variants[8].model.forward_logits, data.evaluation)) >= 0.9
    weights = variants[8].details["float32_weight_bytes"] // 4
    assert variants[8].details["packed_weight_bytes"] == pytest.approx(weights, abs=8)
    assert variants[2].details["packed_weight_bytes"] == pytest.approx(weights / 4, abs=8)
    assert len(variants[2].artifact) < len(variants[8].artifact)


@pytest.mark.parametrize("rule", ["mse", "entropy"])
def test_simulated_activations_round_within_the_rule_and_restore(
    rule: str, tiny: LoadedModel, data: CompressionData
) -> None:
    params = {"weight_bits": 8, "activations": True, "calibration": rule, "scheme": "affine"}
    variant = compress(tiny, "simulated_quant", params, data)
    assert variant.details["activation_ranges"] == len(list(quantizable_layers(tiny.module)))
    # The ranges are the rule's, on the inputs the rounded weights produce.
    plain = editable_copy(variant.model)
    for _, layer in plain.named_modules():
        layer._forward_pre_hooks.clear()
    ranges = activation_ranges(plain, data.calibration, rule)  # type: ignore[arg-type]
    inputs = np.concatenate(
        [
            batch["network.conv2"].numpy().ravel()
            for batch in layer_inputs(plain, data.calibration, {"network.conv2"})
        ]
    )
    chosen = mse_range(inputs) if rule == "mse" else entropy_range(inputs)
    assert ranges["network.conv2"] == pytest.approx(chosen)
    seen = variant.model.module.network.conv2.input_range.tolist()
    assert seen == pytest.approx(list(chosen), abs=1e-6)
    # A saved variant rebuilt from its state dict rounds its inputs again.
    recipe = RECIPES.get("simulated_quant")
    parsed = parse_params(recipe.Params, params, recipe.name)
    rebuilt = recipe.restore_network(editable_copy(tiny), parsed, tiny.input_size)
    rebuilt.load_state_dict(variant.model.module.state_dict(), strict=True)
    recipe.restore_forward(rebuilt, None, parsed, tiny.input_size)  # type: ignore[arg-type]
    torch.testing.assert_close(
        logits_of(rebuilt, data.evaluation),
        logits_of(variant.model.forward_logits, data.evaluation),
    )
    assert not torch.equal(logits_of(plain, data.evaluation), logits_of(rebuilt, data.evaluation))


def test_int8_static_symmetric_entropy_uses_int8_activations(
    tiny: LoadedModel, data: CompressionData
) -> None:
    variant = compress(tiny, "int8_static", {"scheme": "symmetric", "calibration": "entropy"}, data)
    graph = onnx.load_from_string(variant.artifact).graph
    zero_points = [t for t in graph.initializer if t.name.endswith("zero_point")]
    activation = [t for t in zero_points if t.name.endswith("output_0_zero_point")]
    assert activation and all(t.data_type == onnx.TensorProto.INT8 for t in activation)
    assert all(not onnx.numpy_helper.to_array(t).any() for t in activation)  # scale only
    assert variant.details["twin_agreement"] >= 0.5
