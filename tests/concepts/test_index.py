"""The channel index against a brute-force loop: same images, same maxima, same boxes."""

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from app.concepts.index import (
    build_index,
    channel_details,
    crop_path,
    index_folder,
    read_index,
    write_index,
)
from app.concepts.tap import receptive_field, tap
from app.errors import BadParameter, UnknownAsset
from tests.models import assert_unchanged, fingerprint, loaded


class BlockNet(nn.Module):
    """EfficientNet's pattern in small: BatchNorms, one ReLU6 module shared by every layer,
    a stride-2 layer and a last layer without activation (a linear bottleneck)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(6)
        self.conv2 = nn.Conv2d(6, 8, 3, stride=2, padding=1)
        self.bn2 = nn.BatchNorm2d(8)
        self.conv3 = nn.Conv2d(8, 8, 3, padding=1)
        self.bn3 = nn.BatchNorm2d(8)
        self.act = nn.ReLU6()
        self.fc = nn.Linear(8, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act(self.bn1(self.conv1(x)))
        x = self.act(self.bn2(self.conv2(x)))
        x = self.bn3(self.conv3(x))
        return self.fc(x.mean(dim=(2, 3)))


@pytest.fixture
def block_net():
    model = loaded(BlockNet(), grad_cam_layer="conv3")
    generator = torch.Generator().manual_seed(3)
    for norm in (model.network.bn1, model.network.bn2, model.network.bn3):
        channels = norm.num_features
        norm.running_mean.copy_(torch.randn(channels, generator=generator) * 0.2)
        norm.running_var.copy_(torch.rand(channels, generator=generator) + 0.5)
        norm.weight.copy_(torch.randn(channels, generator=generator) * 2)
    return model


def _images(count: int = 21) -> list[tuple[str, torch.Tensor]]:
    generator = torch.Generator().manual_seed(7)
    return [(f"image {k:02d}", torch.rand(3, 32, 32, generator=generator)) for k in range(count)]


def _interval(lo: int, hi: int, stride: int, padding: int, kernel: int, size: int) -> tuple:
    """Input rows [first, last] of output rows [lo, hi] of one convolution, clipped."""
    return max(lo * stride - padding, 0), min(hi * stride - padding + kernel - 1, size - 1)


def _brute_force(model, images, top):
    """Every activation by hand, a plain Python top-k, boxes by the convolution arithmetic."""
    net = model.network
    layers = {}
    for name, pixels in images:
        x = model.module.normalize(pixels[None])
        h1 = F.relu6(net.bn1(net.conv1(x)))
        h2 = F.relu6(net.bn2(net.conv2(h1)))
        h3 = net.bn3(net.conv3(h2))
        for layer, output in (("conv1", h1), ("conv2", h2), ("conv3", h3)):
            for channel in range(output.shape[1]):
                plane = output[0, channel]
                flat = int(torch.argmax(plane.flatten()))  # the first maximum, row-major
                y, x_ = divmod(flat, plane.shape[1])
                layers.setdefault(layer, {}).setdefault(channel, []).append(
                    (float(plane.max()), name, y, x_)
                )

    def box(layer: str, y: int, x: int) -> list[int]:
        spans = []
        for position in (y, x):
            lo = hi = position
            chain = {"conv1": [(1, 1, 3, 32)], "conv2": [(2, 1, 3, 32), (1, 1, 3, 32)]}
            chain["conv3"] = [(1, 1, 3, 16)] + chain["conv2"]
            for stride, padding, kernel, size in chain[layer]:
                lo, hi = _interval(lo, hi, stride, padding, kernel, size)
            spans.append((lo, hi + 1))
        return [spans[0][0], spans[1][0], spans[0][1], spans[1][1]]

    expected = {}
    for layer, channels in layers.items():
        expected[layer] = {}
        for channel, rows in channels.items():
            ranked = sorted(rows, key=lambda row: -row[0])[:top]  # stable: earlier image first
            expected[layer][str(channel)] = [
                {"image": name, "value": value, "position": [y, x], "box": box(layer, y, x)}
                for value, name, y, x in ranked
            ]
    return expected


def test_index_matches_brute_force(block_net) -> None:
    images = _images()
    before = fingerprint(block_net.module)
    index = build_index(block_net, images, ["conv1", "conv2", "conv3"], top=4)
    assert_unchanged(before, fingerprint(block_net.module))
    with torch.no_grad():
        expected = _brute_force(block_net, images, top=4)
    assert index["images"] == len(images)
    assert index["layers"]["conv1"]["tapped_as"] == "activation"
    assert index["layers"]["conv3"]["tapped_as"] == "norm"  # linear: no activation follows
    for layer in ("conv1", "conv2", "conv3"):
        got = index["layers"][layer]
        assert got["channels"] == len(expected[layer])
        for channel, rows in expected[layer].items():
            found = got["exemplars"][channel]
            assert [row["image"] for row in found] == [row["image"] for row in rows]
            assert [row["position"] for row in found] == [row["position"] for row in rows]
            assert [row["box"] for row in found] == [row["box"] for row in rows], (layer, channel)
            np.testing.assert_allclose(
                [row["value"] for row in found], [row["value"] for row in rows], rtol=1e-5
            )


def test_receptive_field_sampled_lines_follow_the_stride(block_net) -> None:
    """Layers over 16 lines measure seven and shift the middle one: compare to all measured."""
    field = receptive_field(block_net, "conv1")  # 32 rows: sampled
    # conv1 is 3×3, padding 1: row y sees rows y-1 .. y+1, clipped.
    assert field.rows == [(max(y - 1, 0), min(y + 2, 32)) for y in range(32)]
    assert field.cols == field.rows


def test_tap_follows_only_its_own_activation(block_net) -> None:
    """The shared ReLU6 runs after every layer; conv2's tap takes the call on conv2's output."""
    pixels = _images(1)[0][1][None]
    with tap(block_net, "conv2") as found, torch.no_grad():
        block_net.module(pixels)
    net = block_net.network
    with torch.no_grad():
        x = block_net.module.normalize(pixels)
        expected = F.relu6(net.bn2(net.conv2(F.relu6(net.bn1(net.conv1(x))))))
    assert found.tapped_as == "activation"
    torch.testing.assert_close(found.outputs[0], expected)


def test_bad_layers_are_refused(block_net) -> None:
    with pytest.raises(BadParameter, match="no layer"):
        build_index(block_net, _images(2), ["conv9"])
    with pytest.raises(BadParameter, match="runs 2 times"):
        build_index(block_net, _images(2), ["act"])
    with pytest.raises(BadParameter, match="not \\(N, C, H, W\\)"):
        build_index(block_net, _images(2), ["fc"])


def test_storage_round_trip(block_net, settings) -> None:
    images = _images(5)
    index = build_index(block_net, images, ["conv2"], top=2, data="noise")
    write_index(index, index_folder(settings, "tiny/model"))
    stored = read_index(settings, "tiny/model")
    assert stored is not None and stored["data"] == "noise"
    assert "_crops" not in stored and json.dumps(stored)
    details = channel_details(settings, "tiny/model", "conv2", 3)
    assert sum(details["histogram"]["counts"]) == len(images)
    assert sum(row["images"] for row in details["classes"]) <= len(images)
    first = details["exemplars"][0]
    crop = Image.open(crop_path(settings, "tiny/model", "conv2", 3, 0))
    top, left, bottom, right = first["box"]
    pixels = dict(images)[first["image"]]
    cut = (pixels[:, top:bottom, left:right].permute(1, 2, 0).numpy() * 255 + 0.5).astype("uint8")
    resized = np.asarray(Image.fromarray(cut).resize(crop.size, Image.Resampling.BICUBIC))
    np.testing.assert_array_equal(np.asarray(crop), resized)
    with pytest.raises(UnknownAsset):
        channel_details(settings, "tiny/model", "conv1", 0)
    with pytest.raises(UnknownAsset):
        crop_path(settings, "tiny/model", "conv2", 3, 5)
    assert read_index(settings, "other") is None
