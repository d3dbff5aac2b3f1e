"""The measurements against closed forms: agreement, KL, overlap, ranges and histograms."""

import numpy as np
import pytest
import torch

from app.compress.analysis import activation_histogram, layer_names, sensitivity_scan
from app.compress.fake_quant import activation_ranges, layer_inputs, uint8_grid
from app.compress.measure import agreement, count_parameters, kl_divergence, top_overlap
from app.errors import BadParameter
from app.zoo import LoadedModel


def test_agreement_and_kl_have_their_closed_forms() -> None:
    a = torch.tensor([[2.0, 1.0, 0.0], [0.0, 3.0, 1.0]])
    b = torch.tensor([[0.0, 1.0, 2.0], [0.0, 3.0, 1.0]])
    assert agreement(a, a) == 1.0 and agreement(a, b) == 0.5
    assert kl_divergence(a, a) == pytest.approx(0.0, abs=1e-12)
    p = torch.softmax(a[0].double(), 0)
    q = torch.softmax(b[0].double(), 0)
    expected = float((p * (p / q).log()).sum()) / 2  # the second row contributes 0
    assert kl_divergence(a, b) == pytest.approx(expected)


def test_top_overlap_and_counts() -> None:
    a = np.arange(100, dtype=np.float32).reshape(10, 10)
    assert top_overlap(a, a) == 1.0
    assert top_overlap(a, 99 - a) == 0.0  # the brightest become the darkest
    assert count_parameters([torch.tensor([0.0, 1.0, 2.0]), torch.zeros(2)]) == (5, 2)


def test_minmax_ranges_are_the_extremes_of_each_layer_input(tiny: LoadedModel, evaluation) -> None:
    pixels = evaluation.calibration
    ranges = activation_ranges(tiny.module, pixels, "minmax")
    seen = {name: [] for name in layer_names(tiny)}
    for inputs in layer_inputs(tiny.module, pixels):
        for name, values in inputs.items():
            seen[name].append(values)
    for name, parts in seen.items():
        values = torch.cat(parts)
        assert ranges[name] == pytest.approx((float(values.min()), float(values.max())))
    clipped = activation_ranges(tiny.module, pixels, "percentile", 99.0)
    for name, (low, high) in clipped.items():
        assert ranges[name][0] <= low <= high <= ranges[name][1]


def test_uint8_grid_covers_zero_and_the_range() -> None:
    scale, zero = uint8_grid(-1.0, 3.0)
    assert scale == pytest.approx(4.0 / 255) and zero == round(1.0 / scale)
    scale, zero = uint8_grid(0.5, 6.0)  # widened to contain 0
    assert zero == 0 and scale == pytest.approx(6.0 / 255)


def test_histogram_counts_every_value_and_draws_each_rule(tiny: LoadedModel, evaluation) -> None:
    histogram = activation_histogram(tiny, "network.conv2", evaluation.calibration)
    inputs = torch.cat(
        [
            i["network.conv2"]
            for i in layer_inputs(tiny.module, evaluation.calibration, {"network.conv2"})
        ]
    )
    assert sum(histogram.counts) == inputs.numel()
    low, high = histogram.ranges["minmax"]
    assert (low, high) == pytest.approx((float(inputs.min()), float(inputs.max())))
    assert histogram.edges[0] == pytest.approx(low) and histogram.edges[-1] == pytest.approx(high)
    for rule in ("percentile", "mse", "entropy"):
        assert low - 1e-6 <= histogram.ranges[rule][0] <= histogram.ranges[rule][1] <= high + 1e-6
    with pytest.raises(BadParameter, match="not a convolution"):
        activation_histogram(tiny, "network.nothing", evaluation.calibration)


def test_sensitivity_scan_prunes_one_layer_at_a_time(tiny: LoadedModel, evaluation) -> None:
    untouched = sensitivity_scan(tiny, evaluation.pixels, 0.0)
    assert [s.layer for s in untouched] == layer_names(tiny)
    assert all(
        s.agreement == 1.0 and s.kl_divergence == pytest.approx(0, abs=1e-9) for s in untouched
    )
    emptied = sensitivity_scan(tiny, evaluation.pixels, 1.0)
    assert min(s.agreement for s in emptied) < 1.0
    assert any(s.kl_divergence > 0 for s in emptied)
