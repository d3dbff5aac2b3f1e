"""Concept breakdown: gradient × activation per channel equals Captum's layer attribution on the
post-activation tensor, each heatmap sums to its channel's contribution."""

import pytest
import torch
from captum.attr import LayerGradientXActivation

from app.concepts.breakdown import breakdown
from app.errors import BadTarget
from tests.models import ReluNet, assert_unchanged, fingerprint, loaded, tiny_pixels


def test_breakdown_matches_captum_and_conserves() -> None:
    model = loaded(ReluNet())
    pixels = tiny_pixels()
    before = fingerprint(model.module)
    result = breakdown(model, pixels, "conv2", target=3, top=16)
    assert_unchanged(before, fingerprint(model.module))
    assert result["tapped_as"] == "activation"  # conv2 is read after relu2
    # Captum on relu2's output (the same tensor), summed over positions per channel.
    layer = LayerGradientXActivation(model.module, model.network.relu2)
    reference = layer.attribute(pixels[None], target=3)[0]
    expected = reference.sum(dim=(1, 2))
    channels = result["channels"]
    assert len(channels) == 16
    got = {row["channel"]: row["contribution"] for row in channels}
    for channel, value in got.items():
        assert value == pytest.approx(float(expected[channel]), abs=1e-6)
        heatmap = torch.tensor(next(r["heatmap"] for r in channels if r["channel"] == channel))
        torch.testing.assert_close(heatmap, reference[channel])
        assert float(heatmap.sum()) == pytest.approx(value, abs=1e-5)  # conservation
    ranked = [row["contribution"] for row in channels]
    assert ranked == sorted(ranked, reverse=True)
    assert result["total"] == pytest.approx(float(expected.sum()), abs=1e-5)
    assert sum(abs(row["share"]) for row in channels) == pytest.approx(1.0)


def test_default_class_is_the_prediction_and_bad_class_refused() -> None:
    model = loaded(ReluNet())
    pixels = tiny_pixels()
    result = breakdown(model, pixels, "head", top=2)
    assert result["class"] == int(model.module(pixels[None]).argmax())
    assert len(result["channels"]) == 2
    with pytest.raises(BadTarget):
        breakdown(model, pixels, "head", target=10)
