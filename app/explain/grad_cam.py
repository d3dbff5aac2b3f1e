"""Grad-CAM (Selvaraju et al., ICCV 2017).

cam = ReLU(Σ_k w_k A_k), w_k = mean over space of d logit[target] / d A_k, at a layer that runs
once per forward pass: the model's default, else the last spatial convolution, or `layer`.
raw: (h, w) at the layer's resolution; map: (H, W) bilinear upsampling, >= 0.
"""

from collections.abc import Hashable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import torch
import torch.nn.functional as F
from pydantic import Field

from app.errors import BadParameter
from app.explain.base import METHODS, Attribution, Method
from app.layers import capture_leaves, resolve_layer
from app.params import Params, Progress
from app.zoo import LoadedModel

__all__ = ["GradCam", "grad_cam", "remembered_cams"]


_REMEMBERED: ContextVar[dict[Hashable, Any] | None] = ContextVar("grad_cams", default=None)


@contextmanager
def remembered_cams() -> Iterator[None]:
    """Inside the block, each (model, pixels, target, layer) Grad-CAM is computed once (a panel
    with Grad-CAM and guided Grad-CAM needs the same one twice)."""
    token = _REMEMBERED.set({})
    try:
        yield
    finally:
        _REMEMBERED.reset(token)


def grad_cam(
    model: LoadedModel, pixels: torch.Tensor, target: int, layer: str | None
) -> tuple[torch.Tensor, torch.Tensor, str]:
    """(coarse (h, w), upsampled (H, W), layer name)."""
    remembered = _REMEMBERED.get()
    key = (id(model), id(pixels), target, layer)
    if remembered is not None and key in remembered:
        cams: tuple[torch.Tensor, torch.Tensor, str] = remembered[key]
        return cams
    cams = _grad_cam(model, pixels, target, layer)
    if remembered is not None:
        remembered[key] = cams
    return cams


def _grad_cam(
    model: LoadedModel, pixels: torch.Tensor, target: int, layer: str | None
) -> tuple[torch.Tensor, torch.Tensor, str]:
    name, _ = resolve_layer(model, layer)
    # The gradient copy (faster) when it left this layer's output as the model's, else the model.
    runner = model.layer_module(name)
    inputs = pixels.detach()  # no gradient before the layer
    if runner is not model.module:
        inputs = inputs.contiguous(memory_format=torch.channels_last)  # as the copy runs best
    with capture_leaves(runner.get_submodule(f"network.{name}")) as outputs:
        logits = runner(inputs)
    if len(outputs) != 1:
        raise BadParameter(
            f"layer {name!r} runs {len(outputs)} times per forward pass; Grad-CAM needs a layer "
            f"that runs once (default for {model.name}: {model.spec.grad_cam_layer or 'auto'})"
        )
    activation = outputs[0]
    if not isinstance(activation, torch.Tensor) or activation.ndim != 4:
        raise BadParameter(f"layer {name!r} does not output a (N, C, H, W) feature map")
    (grad,) = torch.autograd.grad(logits[0, target], activation)
    weights = grad.mean(dim=(2, 3), keepdim=True)
    coarse = F.relu((weights * activation).sum(dim=1, keepdim=True)).detach()
    fine = F.interpolate(coarse, size=pixels.shape[-2:], mode="bilinear", align_corners=False)
    return coarse[0, 0], fine[0, 0], name


class GradCamParams(Params):
    layer: str | None = Field(
        None,
        max_length=200,
        description="Layer inside the network (e.g. _conv_head); empty = the model's default",
        json_schema_extra={"x-suggest": "layers"},  # the form offers GET /api/models/M/layers
    )


@METHODS.register
class GradCam(Method):
    name = "grad_cam"
    title = "Grad-CAM"
    caption = (
        "Red: regions whose features raised the score for '{label}' the most, seen at the last "
        "convolution's coarse grid."
    )
    reference = "Selvaraju et al., 2017"
    Params = GradCamParams
    signed = False
    in_default_panel = True
    in_attack_panel = True

    def attribute(
        self, model: LoadedModel, pixels: torch.Tensor, target: int, params: Any, progress: Progress
    ) -> Attribution:
        coarse, fine, name = grad_cam(model, pixels, target, params.layer)
        progress(1, 1)
        warnings = [] if coarse.max() > 0 else [f"Grad-CAM at {name!r} is zero everywhere"]
        return Attribution(map=fine, raw=coarse, warnings=warnings)
