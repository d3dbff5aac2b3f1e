"""The Shapes lab's networks: the default model as a teacher (pretrained or from scratch, with a
new 10-class head), a small student CNN, and the wrapper that lets every Lantern method explain
them."""

from typing import Literal

import torch
from torch import nn

from app.imaging.preprocessing import Preprocessing
from app.settings import Settings
from app.shapes.dataset import SHAPES
from app.zoo import LoadedModel, ModelSpec
from app.zoo.efficientnet_lite import EFFICIENTNET_LITE0

__all__ = ["ShapesStudent", "Start", "as_loaded", "count_parameters", "teacher_network"]

Start = Literal["pretrained", "scratch"]
_IMAGENET = {"mean": (0.485, 0.456, 0.406), "std": (0.229, 0.224, 0.225)}


def teacher_network(settings: Settings, start: Start) -> nn.Module:
    """EfficientNet-Lite0 with a fresh 10-class head: ImageNet weights, or random ones."""
    if start == "pretrained":
        network = EFFICIENTNET_LITE0.build(settings)
    else:
        network = EFFICIENTNET_LITE0.architecture(1000)
    head = network._fc
    assert isinstance(head, nn.Linear)
    network._fc = nn.Linear(head.in_features, len(SHAPES))
    return network


class ShapesStudent(nn.Module):
    """Four conv-BN-ReLU layers (width, 2·width, 4·width, 4·width channels; the first three with
    stride 2), global average pooling and a linear layer: 137 k parameters at width 24, about
    25× fewer than the teacher's 3.4 M."""

    def __init__(self, width: int = 24, classes: int = len(SHAPES)) -> None:
        super().__init__()
        channels = [3, width, 2 * width, 4 * width, 4 * width]
        layers: list[nn.Module] = []
        for index in range(4):
            stride = 2 if index < 3 else 1
            layers += [
                nn.Conv2d(channels[index], channels[index + 1], 3, stride, 1, bias=False),
                nn.BatchNorm2d(channels[index + 1]),
                nn.ReLU(),
            ]
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(channels[-1], classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        result: torch.Tensor = self.head(self.features(x).mean(dim=(2, 3)))
        return result


def count_parameters(network: nn.Module) -> int:
    return sum(parameter.numel() for parameter in network.parameters())


def as_loaded(network: nn.Module, name: str, size: int, device: str = "cpu") -> LoadedModel:
    """A trained Shapes network as a LoadedModel: explain(), attacks and trust checks accept it.
    Inputs are Shapes pixels at `size` (no resize), normalised with ImageNet's mean and std."""
    teacher = hasattr(network, "_conv_head")
    spec = ModelSpec(
        name=name,
        description=f"{name}: trained on Shapes ({len(SHAPES)} classes, {size}×{size})",
        build=lambda settings: network,
        architecture=lambda classes: network,
        preprocessing=Preprocessing(resize=size, crop=size, **_IMAGENET),
        labels=lambda: list(SHAPES),
        # At 64×64 the teacher's _conv_head is 2×2: too coarse to point at anything. Its last
        # block at stride 16 (4×4) is the latest layer with some resolution.
        grad_cam_layer="_blocks.10" if teacher else "features.9",  # features.9: its last conv
    )
    return LoadedModel.from_network(spec, network, device=device, weights=f"trained: {name}")
