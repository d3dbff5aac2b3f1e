"""The gradient copy (BatchNorm folded, channels-last) gives the model's logits and gradients,
and is not used where it could be wrong."""

import dataclasses

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from tests.models import CLASSES, TinyNet, assert_unchanged, fingerprint, loaded


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


def normed(skip: bool = False):
    """A NormNet in a LoadedModel, with BatchNorm statistics that make folding matter."""
    model = loaded(NormNet(skip))  # loaded() resets parameters and statistics
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


def gradient(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    x = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(module(x)[:, 2].sum(), x)
    return grad


def test_folded_copy_equals_the_model() -> None:
    model = normed()
    before = fingerprint(model.module)
    twin = model.gradient_module
    assert twin is not model.module
    assert not any(isinstance(m, nn.BatchNorm2d) for m in twin.modules())
    assert twin.network.conv1.weight.is_contiguous(memory_format=torch.channels_last)
    x = torch.rand(3, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        np.testing.assert_allclose(twin(x), model.module(x), atol=1e-5)
    np.testing.assert_allclose(gradient(twin, x), gradient(model.module, x), atol=1e-5)
    assert_unchanged(before, fingerprint(model.module))
    assert model.gradient_inputs(x).is_contiguous(memory_format=torch.channels_last)


def test_a_convolution_used_twice_is_not_folded() -> None:
    model = normed(skip=True)
    assert model.gradient_module is model.module  # the check against the model refused it


def test_nothing_to_fold_and_variants_use_the_model(tiny) -> None:
    assert tiny.gradient_module is tiny.module
    assert tiny.gradient_inputs(torch.rand(1, 3, 32, 32)).is_contiguous()
    variant = dataclasses.replace(normed(), forward_is_module=False)
    assert variant.gradient_module is variant.module


def test_default_model_gradient_copy(default_model) -> None:
    twin = default_model.gradient_module
    assert twin is not default_model.module
    batch_norms = [m for m in twin.modules() if isinstance(m, nn.BatchNorm2d)]
    assert batch_norms == []
    x = torch.rand(2, 3, 224, 224, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        expected = default_model.module(x)
        assert float((twin(x) - expected).abs().max()) < 1e-4 * float(expected.abs().max())


def test_tiny_net_is_left_alone() -> None:
    model = loaded(TinyNet())
    before = fingerprint(model.module)
    model.prepare()
    assert_unchanged(before, fingerprint(model.module))
