"""Tiny models for fast tests, and a fingerprint to check that a method left a model unchanged."""

import dataclasses
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from app.imaging.preprocessing import Preprocessing
from app.zoo import LoadedModel, ModelSpec

TINY_PREPROCESSING = Preprocessing(resize=32, crop=32, mean=(0.5, 0.4, 0.3), std=(0.25, 0.2, 0.3))
CLASSES = 10


class TinyNet(nn.Module):
    """Conv net with every activation style the rules must reach: an in-place nn.ReLU, an
    nn.ReLU6 module called twice, functional relu6 and relu."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1, stride=2)
        self.act = nn.ReLU6()
        self.conv3 = nn.Conv2d(16, 16, 3, padding=1)
        self.head = nn.Conv2d(16, 24, 3, padding=1, stride=2)
        self.fc = nn.Linear(24, CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.conv1(x))
        x = self.act(self.conv2(x))
        x = self.act(self.conv3(x) * 3.0)  # the same module again, in a wider range
        x = F.relu6(x + 0.1)
        x = F.relu(self.head(x))
        return self.fc(x.mean(dim=(2, 3)))


class ReluNet(nn.Module):
    """Only nn.ReLU modules, each used once: the case Captum's GuidedBackprop handles."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1, stride=2)
        self.relu2 = nn.ReLU()
        self.head = nn.Conv2d(16, 16, 3, padding=1)
        self.relu3 = nn.ReLU()
        self.fc = nn.Linear(16, CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu1(self.conv1(x))
        x = self.relu2(self.conv2(x))
        x = self.relu3(self.head(x))
        return self.fc(x.mean(dim=(2, 3)))


class LinearNet(nn.Module):
    """logits = W · flatten(x) + b: every attribution has a closed form."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(3 * 32 * 32, CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x.flatten(1))


def linear_gradient(model: LoadedModel, target: int) -> torch.Tensor:
    """d logit[target] / d pixels of a LinearNet inside its PixelClassifier: W[target] / std."""
    std = torch.tensor(model.preprocessing.std).view(3, 1, 1)
    return (model.network.fc.weight[target].view(3, 32, 32) / std).detach()


def tiny_spec(name: str = "tiny", grad_cam_layer: str | None = "head") -> ModelSpec:
    return ModelSpec(
        name=name,
        description="test model",
        build=lambda settings: TinyNet(),
        architecture=lambda classes: TinyNet(),
        preprocessing=TINY_PREPROCESSING,
        labels=lambda: [f"class {index}" for index in range(CLASSES)],
        grad_cam_layer=grad_cam_layer,
    )


class StagedNet(nn.Module):
    """Local early layers (padding, a stride, a grouped 5×5, ReLU6), then a global head: the
    shape incremental occlusion cuts (see staged_spec)."""

    def __init__(self) -> None:
        super().__init__()
        self.early = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1),
            nn.ReLU6(),
            nn.Conv2d(8, 8, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(8, 12, 5, padding=2, groups=4),
            nn.ReLU6(),
        )
        self.late = nn.Sequential(
            nn.Conv2d(12, 16, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(16, CLASSES),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.late(self.early(x))


def staged_stages(module: nn.Module) -> list[nn.Module]:
    network: Any = module.network
    return [nn.Sequential(module.normalize, network.early).eval(), network.late]


def staged(seed: int = 0) -> LoadedModel:
    """A StagedNet whose spec declares its stages for incremental occlusion."""
    torch.manual_seed(seed)
    spec = dataclasses.replace(tiny_spec("staged", grad_cam_layer=None), stages=staged_stages)
    return LoadedModel.from_network(spec, StagedNet())


def loaded(network: nn.Module, grad_cam_layer: str | None = "head", seed: int = 0) -> LoadedModel:
    torch.manual_seed(seed)
    for module in network.modules():
        if hasattr(module, "reset_parameters"):
            module.reset_parameters()
    return LoadedModel.from_network(tiny_spec(grad_cam_layer=grad_cam_layer), network)


def tiny_pixels(seed: int = 1) -> torch.Tensor:
    """Smooth random image (8×8 noise upsampled), so superpixels find regions in it."""
    generator = torch.Generator().manual_seed(seed)
    coarse = torch.rand(1, 3, 8, 8, generator=generator)
    fine = F.interpolate(coarse, size=(32, 32), mode="bilinear", align_corners=False)
    return fine[0].clamp(0.0, 1.0)


def fingerprint(module: nn.Module) -> dict[str, Any]:
    """Everything a method could leave changed: weights, buffers, hooks, modes, flags."""
    hooks = {}
    flags = {}
    for name, sub in module.named_modules():
        hooks[name] = tuple(
            len(getattr(sub, attribute))
            for attribute in (
                "_forward_hooks",
                "_forward_pre_hooks",
                "_backward_hooks",
                "_backward_pre_hooks",
            )
        )
        flags[name] = (sub.training, getattr(sub, "inplace", None), type(sub).__name__)
    return {
        "state": {key: value.detach().clone() for key, value in module.state_dict().items()},
        "requires_grad": {key: p.requires_grad for key, p in module.named_parameters()},
        "grads": {key: p.grad is None for key, p in module.named_parameters()},
        "hooks": hooks,
        "flags": flags,
        "global_hooks": (
            len(nn.modules.module._global_forward_hooks),
            len(nn.modules.module._global_backward_hooks),
        ),
        "function_mode": torch._C._len_torch_function_stack(),
    }


def assert_unchanged(before: dict[str, Any], after: dict[str, Any]) -> None:
    assert before.keys() == after.keys()
    for key in before:
        if key == "state":
            assert before[key].keys() == after[key].keys()
            for name, tensor in before[key].items():
                assert torch.equal(tensor, after[key][name]), f"{name} changed"
        else:
            assert before[key] == after[key], f"{key} changed"


class NormNet(nn.Module):
    def __init__(self, skip: bool = False) -> None:
        super().__init__()
        self.skip = skip
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1, groups=8)
        self.bn2 = nn.BatchNorm2d(8)
        self.fc = nn.Linear(8, CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu6(self.bn1(self.conv1(x)))
        y = self.conv2(x)
        x = self.bn2(y) + (y if self.skip else 0.0)  # with skip, conv2's output is used twice
        return self.fc(torch.relu(x).mean(dim=(2, 3)))


def normed(skip: bool = False, grad_cam_layer: str | None = "head") -> LoadedModel:
    """A NormNet in a LoadedModel, with BatchNorm statistics that make folding matter."""
    model = loaded(NormNet(skip), grad_cam_layer)  # loaded() resets parameters and statistics
    with torch.no_grad():
        with_statistics(model.network)
    return model


def with_statistics(network: nn.Module) -> nn.Module:
    generator = torch.Generator().manual_seed(5)
    for module in network.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.copy_(torch.randn(module.num_features, generator=generator))
            module.running_var.copy_(torch.rand(module.num_features, generator=generator) + 0.5)
            module.weight.data.copy_(torch.randn(module.num_features, generator=generator))
    return network


def assert_params_contract(params: type, name: str) -> None:
    """Every registered entry's parameters: each described and defaulted (the forms and the CLI
    show them), and an unknown name refused with a message naming the entry."""
    import pytest

    from app.errors import BadParameter
    from app.params import parse_params

    for field_name, field in params.model_fields.items():  # type: ignore[attr-defined]
        assert field.description, f"{name}.{field_name} has no description"
        assert not field.is_required(), f"{name}.{field_name} has no default"
    with pytest.raises(BadParameter, match=name):
        parse_params(params, {"no_such_parameter": 1}, name)
