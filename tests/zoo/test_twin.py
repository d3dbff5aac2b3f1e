"""The gradient copy (BatchNorm folded, channels-last) gives the model's logits and gradients,
and is not used where it could be wrong."""

import dataclasses

import numpy as np
import torch
from torch import nn

from tests.models import (
    TinyNet,
    assert_unchanged,
    fingerprint,
    loaded,
    normed,
)


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
    batch_norms = [name for name, m in twin.named_modules() if isinstance(m, nn.BatchNorm2d)]
    assert batch_norms == ["network._bn1"]  # after _conv_head, the Grad-CAM layer: kept apart
    assert default_model.layer_module("_conv_head") is twin
    assert default_model.layer_module("_blocks.15._project_conv") is default_model.module
    x = torch.rand(2, 3, 224, 224, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        expected = default_model.module(x)
        assert float((twin(x) - expected).abs().max()) < 1e-4 * float(expected.abs().max())


def test_the_grad_cam_layer_keeps_its_batch_norm() -> None:
    """The default Grad-CAM layer's output in the copy is the model's, so Grad-CAM runs on the
    copy there; at a folded convolution it runs on the model."""
    model = normed(grad_cam_layer="conv2")
    twin = model.gradient_module
    assert twin is not model.module
    assert isinstance(twin.network.bn2, nn.BatchNorm2d) and isinstance(
        twin.network.bn1, nn.Identity
    )
    assert model.layer_module("conv2") is twin and model.layer_module("conv1") is model.module
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(4))
    outputs = []
    for module in (model.module, twin):
        hook = module.network.conv2.register_forward_hook(lambda m, i, o: outputs.append(o))
        with torch.no_grad():
            module(x)
        hook.remove()
    np.testing.assert_allclose(outputs[1], outputs[0], atol=1e-5)
    np.testing.assert_allclose(gradient(twin, x), gradient(model.module, x), atol=1e-5)


def test_tiny_net_is_left_alone() -> None:
    model = loaded(TinyNet())
    before = fingerprint(model.module)
    model.prepare()
    assert_unchanged(before, fingerprint(model.module))


def test_a_one_shot_process_can_skip_the_copy() -> None:
    model = normed()
    model.skip_gradient_copy("one command")
    assert model.gradient_module is model.module
    assert model.gradient_inputs(torch.rand(1, 3, 32, 32)).is_contiguous()
