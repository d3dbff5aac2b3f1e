"""explain(): validate, run one registered method, and package the result."""

import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from app.errors import BadImage, BadTarget, UnsupportedMethod
from app.explain.base import METHODS, Attribution, Explanation
from app.params import Params, Progress, no_progress, parse_params
from app.zoo import LoadedModel

__all__ = [
    "check_class",
    "check_input",
    "check_target",
    "explain",
    "package_explanation",
]


def check_input(model: LoadedModel, pixels: torch.Tensor) -> torch.Tensor:
    """(3, H, W) pixels in [0, 1] at the model's input size -> (1, 3, H, W) on its device."""
    size = model.input_size
    if pixels.shape != (3, size, size):
        raise BadImage(f"{model.name} takes a (3, {size}, {size}) input, not {tuple(pixels.shape)}")
    if not torch.isfinite(pixels).all() or pixels.min() < 0 or pixels.max() > 1:
        raise BadImage("input pixels must be finite and in [0, 1]")
    return pixels.detach().float().to(model.device).unsqueeze(0)


def check_class(model: LoadedModel, index: int) -> int:
    if not 0 <= index < model.num_classes:
        raise BadTarget(
            f"class {index} is out of range: {model.name} has classes 0 to {model.num_classes - 1}"
        )
    return index


def check_target(model: LoadedModel, target: int | None, probs: torch.Tensor) -> int:
    """The class to explain: `target`, or the top-1 class of `probs`."""
    return int(probs.argmax()) if target is None else check_class(model, target)


def explain(
    model: LoadedModel,
    pixels: torch.Tensor,
    method: str,
    target: int | None = None,
    params: Mapping[str, Any] | None = None,
    progress: Progress = no_progress,
) -> Explanation:
    """Explain class `target` (default: the top-1 prediction) for (3, H, W) pixels in [0, 1]."""
    explainer = METHODS.get(method)
    reason = explainer.supports(model)
    if reason is not None:
        raise UnsupportedMethod(f"{method} cannot run on {model.name}: {reason}")
    parsed = parse_params(explainer.Params, params, method)
    batch = check_input(model, pixels)
    if explainer.forward_only:
        model.ensure_fast_forward()  # deferred at load; the prediction runs on it too, as before
    probs = model.probabilities(batch)[0]
    chosen = check_target(model, target, probs)
    started = time.perf_counter()
    result = explainer.attribute(model, batch, chosen, parsed, progress)
    return package_explanation(model, method, batch, probs, chosen, parsed, result, started)


def package_explanation(
    model: LoadedModel,
    method: str,
    batch: torch.Tensor,
    probs: torch.Tensor,
    target: int,
    params: Params,
    result: Attribution,
    started: float,
) -> Explanation:
    """The Explanation of `result`, timed from `started` (perf_counter) to now."""
    if model.device.type == "cuda":
        torch.cuda.synchronize(model.device)
    seconds = time.perf_counter() - started
    explainer = METHODS.get(method)
    attribution = result.map.detach().float().cpu().numpy()
    warnings = list(result.warnings)
    if not np.isfinite(attribution).all():
        warnings.append("the map has non-finite values; they are shown as 0")
        attribution = np.nan_to_num(attribution, nan=0.0, posinf=0.0, neginf=0.0)
    raw = None if result.raw is None else result.raw.detach().float().cpu().numpy()
    return Explanation(
        method=method,
        model=model.name,
        target=target,
        target_label=model.labels[target],
        attribution=attribution.astype(np.float32),
        raw=raw,
        input=batch[0].cpu().numpy().astype(np.float32),
        probs=probs.float().cpu().numpy(),
        params=params.model_dump(mode="json"),
        seconds=seconds,
        signed=explainer.signed,
        device=str(model.device),
        warnings=tuple(warnings),
        engine=result.engine or (model.engine if explainer.forward_only else "PyTorch"),
    )
