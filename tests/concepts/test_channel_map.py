"""A channel's map on an image: the tapped activation (after the layer's ReLU6) upsampled,
against the same computed by hand on TinyNet; the model left unchanged."""

import pytest
import torch
import torch.nn.functional as F

from app.concepts.channel_map import channel_map
from app.errors import BadParameter
from app.zoo import LoadedModel
from tests.models import assert_unchanged, fingerprint


def test_the_map_is_the_activation_upsampled(tiny: LoadedModel, pixels: torch.Tensor) -> None:
    before = fingerprint(tiny.module)
    values = channel_map(tiny, "conv2", 3, pixels)
    assert_unchanged(before, fingerprint(tiny.module))
    net = tiny.network
    with torch.no_grad():
        hidden = torch.relu(net.conv1(tiny.module.normalize(pixels[None])))
        grid = torch.clamp(net.conv2(hidden), 0.0, 6.0)[:, 3:4]  # conv2 -> its ReLU6
    expected = F.interpolate(grid, size=(32, 32), mode="bilinear", align_corners=False)[0, 0]
    assert values.shape == (32, 32) and values.dtype == "float32"
    torch.testing.assert_close(torch.from_numpy(values), expected)
    assert float(grid.std()) > 0  # not a constant map, so the comparison means something


def test_a_channel_out_of_range_is_refused(tiny: LoadedModel, pixels: torch.Tensor) -> None:
    with pytest.raises(BadParameter, match="channels 0 to 15"):
        channel_map(tiny, "conv2", 16, pixels)
