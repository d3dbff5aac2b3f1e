"""Feature visualisation (Olah, Mordvintsev & Schubert, "Feature Visualization", Distill 2017;
the Lucid library): the image a channel or a class responds to most, found by gradient ascent.

The image is parameterised in a decorrelated space, as in Lucid: a Fourier spectrum per colour
channel scaled by 1/f (so every frequency starts on an equal footing, instead of the
high-frequency noise plain pixel ascent finds), through the square root of ImageNet's colour
correlation, then a sigmoid to pixels in [0, 1]. Each step shows the network a randomly padded,
jittered, scaled and rotated copy (transformation robustness), so the image must excite the unit
wherever and however it lands. Seeded: the same settings give the same image.

The model is never modified: its parameters already do not require grad (LoadedModel), only the
spectrum does; the layer's hooks (app/concepts/tap.py: the channel is read after the layer's
activation, as the channel index reads it) are removed and the modules' modes restored on
every exit.
`visualise` returns a `FeatureVisualisation` with an (H, W, 3) float32 image in [0, 1].
"""

import dataclasses
import hashlib
import io
import json
import math
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from pydantic import Field
from torch import nn

from app.concepts.tap import Tap, check_layers, tap
from app.errors import BadParameter
from app.params import Params, Progress, no_progress
from app.results import result_type
from app.zoo import LoadedModel

__all__ = [
    "FeatureVisualisation",
    "FeatureVisualisationParams",
    "cache_key",
    "channel_activation",
    "read_cached",
    "visualise",
]

# Lucid's square root of ImageNet's colour correlation matrix, columns scaled to unit max norm.
_COLOUR_CORRELATION = np.array(
    [[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]], dtype=np.float32
)
_COLOUR_CORRELATION /= np.max(np.linalg.norm(_COLOUR_CORRELATION, axis=0))


class FeatureVisualisationParams(Params):
    """What to visualise and how long to optimise: a channel of a layer, or a class's logit."""

    layer: str | None = Field(
        None, max_length=200, description="Layer (as the channel index names it); empty: a class"
    )
    channel: int | None = Field(None, ge=0, description="Channel of the layer to excite")
    target: int | None = Field(None, ge=0, description="Class whose logit to raise (no layer)")
    size: int = Field(128, ge=16, le=512, description="Side of the square image, in pixels")
    steps: int = Field(256, ge=1, le=4096, description="Optimisation steps (the budget)")
    learning_rate: float = Field(0.05, gt=0.0, le=1.0, description="Adam's step size")
    jitter: int = Field(8, ge=0, le=64, description="Largest random shift per step, in pixels")
    scale: float = Field(0.1, ge=0.0, le=0.5, description="Largest random zoom, ± this share")
    rotation: float = Field(10.0, ge=0.0, le=180.0, description="Largest random turn, degrees")
    decorrelate: bool = Field(True, description="Fourier 1/f and colour decorrelation (Lucid)")
    seed: int = Field(0, ge=0, description="Seeds the initial spectrum and the transformations")


@result_type
@dataclasses.dataclass(frozen=True)
class FeatureVisualisation:
    """An optimised image and how it was made. `image`: (H, W, 3) float32 in [0, 1].
    `start` / `objective`: the objective (the channel's mean activation or the class's logit)
    on the initial and the final image, untransformed."""

    model: str
    layer: str | None
    channel: int | None
    target: int | None
    target_label: str | None
    image: np.ndarray
    steps: int
    size: int
    seconds: float
    start: float
    objective: float
    params: dict[str, Any]
    key: str
    cached: bool = False


def cache_key(model: LoadedModel, params: FeatureVisualisationParams) -> str:
    """Names the result of (model, layer, channel, settings): 24 hex digits."""
    described = {"model": model.name, "weights": model.weights, **params.model_dump(mode="json")}
    return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()[:24]


def visualise(
    model: LoadedModel,
    params: FeatureVisualisationParams,
    progress: Progress = no_progress,
    cache_dir: Path | None = None,
) -> FeatureVisualisation:
    """Optimise an image for `params`' channel or class; read from / written to `cache_dir`
    (one PNG and one JSON per key) when given. Raises BadParameter for an unknown layer,
    a channel out of range or a class out of range; progress may raise Cancelled."""
    _check(model, params)
    key = cache_key(model, params)
    if cache_dir is not None:
        hit = read_cached(cache_dir, key)
        if hit is not None:
            progress(1, 1)
            return hit
    started = time.perf_counter()
    image_of, spectrum = _parameterisation(params, model.device)
    optimiser = torch.optim.Adam([spectrum], lr=params.learning_rate)
    chooser = random.Random(params.seed)
    with _objective(model, params) as objective:
        with torch.no_grad():
            start = float(objective.measure(image_of())[0])
        for step in range(params.steps):
            progress(step, params.steps)
            pixels = _transform(image_of(), params, chooser)
            # The gradient of the spectrum only: a parameter that requires grad (a model loaded
            # elsewhere) never gets a .grad from here.
            (spectrum.grad,) = torch.autograd.grad(-objective.ascent(pixels), [spectrum])
            optimiser.step()
        with torch.no_grad():
            final = image_of()
            reached = float(objective.measure(final)[0])
    progress(params.steps, params.steps)
    label = model.labels[params.target] if params.target is not None else None
    result = FeatureVisualisation(
        model=model.name,
        layer=params.layer,
        channel=params.channel,
        target=params.target,
        target_label=label,
        image=final[0].permute(1, 2, 0).cpu().numpy().astype(np.float32),
        steps=params.steps,
        size=params.size,
        seconds=time.perf_counter() - started,
        start=start,
        objective=reached,
        params=params.model_dump(mode="json"),
        key=key,
    )
    if cache_dir is not None:
        _write_cached(cache_dir, result)
    return result


def channel_activation(
    model: LoadedModel, layer: str, channel: int, pixels: torch.Tensor
) -> torch.Tensor:
    """(N,) mean activation of `channel` at `layer` over positions, for (N, 3, H, W) pixels in
    [0, 1] without gradients: the objective visualise raises."""
    params = FeatureVisualisationParams(layer=layer, channel=channel)
    _check(model, params)
    with _objective(model, params) as objective, torch.no_grad():
        return objective.measure(pixels.to(model.device)).cpu()


def read_cached(cache_dir: Path, key: str) -> FeatureVisualisation | None:
    """The stored result under `key`, or None (also for an unreadable one, which is redone)."""
    png, meta = cache_dir / f"{key}.png", cache_dir / f"{key}.json"
    try:
        fields = json.loads(meta.read_text())
        with Image.open(png) as stored:
            image = np.asarray(stored.convert("RGB"), dtype=np.float32) / 255.0
    except (OSError, ValueError):
        return None
    try:
        return FeatureVisualisation(**fields, image=image, cached=True)
    except TypeError:
        return None


def _write_cached(cache_dir: Path, result: FeatureVisualisation) -> None:
    """PNG then JSON, each written to a temporary name and renamed: never half a result."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    pixels = np.clip(np.round(result.image * 255.0), 0, 255).astype(np.uint8)
    Image.fromarray(pixels).save(buffer, format="PNG")
    fields = {
        f.name: getattr(result, f.name)
        for f in dataclasses.fields(result)
        if f.name not in ("image", "cached")
    }
    for name, data in (
        (f"{result.key}.png", buffer.getvalue()),
        (f"{result.key}.json", json.dumps(fields).encode()),
    ):
        partial = cache_dir / f".{name}.{threading.get_ident()}.part"
        partial.write_bytes(data)
        partial.replace(cache_dir / name)


def _check(model: LoadedModel, params: FeatureVisualisationParams) -> None:
    if params.layer is None:
        if params.target is None or params.channel is not None:
            raise BadParameter("feature visualisation: give a layer and a channel, or a target")
        if params.target >= model.num_classes:
            raise BadParameter(
                f"feature visualisation: target {params.target} is not a class of "
                f"{model.name} (0 to {model.num_classes - 1})"
            )
        return
    if params.channel is None or params.target is not None:
        raise BadParameter("feature visualisation: a layer needs a channel (and no target)")
    channels = check_layers(model, [params.layer])[params.layer][1]
    if params.channel >= channels:
        raise BadParameter(
            f"{params.layer} of {model.name} has {channels} channels (0 to {channels - 1}); "
            f"there is no channel {params.channel}"
        )


@dataclasses.dataclass(frozen=True)
class _Objective:
    """measure(pixels): what is reported (the channel's mean post-activation, as the index reads
    it, or the class's logit), per image; ascent(pixels): the scalar the optimiser raises. For a
    channel read after its activation, that is the mean of the activation's input: a ReLU that
    is off everywhere on the starting image passes no gradient, its input does (Lucid optimises
    pre-ReLU tensors for the same reason); the activation is monotonic, so raising its input
    raises the channel."""

    measure: Callable[[torch.Tensor], torch.Tensor]
    ascent: Callable[[torch.Tensor], torch.Tensor]


@contextmanager
def _objective(model: LoadedModel, params: FeatureVisualisationParams) -> Iterator[_Objective]:
    """The objective of `params` on `model` during the block; the module's train/eval modes
    are restored and every hook removed afterwards."""
    modes = {name: sub.training for name, sub in model.module.named_modules()}
    model.module.eval()
    try:
        if params.layer is None:
            target = int(params.target or 0)

            def logit(pixels: torch.Tensor) -> torch.Tensor:
                return model.module(pixels)[:, target]

            yield _Objective(logit, lambda pixels: logit(pixels).sum())
            return
        channel = int(params.channel or 0)
        entered: list[torch.Tensor] = []  # the tensors that fed a module of the tap's chain
        with tap(model, params.layer) as tapped, _stop_after(model, tapped, entered):

            def run(pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
                """(the channel before its activation, after it), (N, H, W) each."""
                tapped.outputs.clear()
                entered.clear()
                with suppress(_Stop):
                    model.module(pixels)
                after = tapped.outputs[-1]
                before = after
                if tapped.tapped_as == "activation":
                    # the activation's input; an in-place one overwrote it: then its output
                    before = next((t for t in reversed(entered) if t is not after), after)
                tapped.outputs.clear()
                entered.clear()
                return before[:, channel], after[:, channel]

            yield _Objective(
                lambda pixels: run(pixels)[1].flatten(1).mean(dim=1),
                lambda pixels: run(pixels)[0].flatten(1).mean(dim=1).sum(),
            )
    finally:
        for name, sub in model.module.named_modules():
            sub.training = modes[name]


class _Stop(Exception):
    """Ends a forward pass once the tapped tensor is final: the rest of the network is not
    needed for a channel's objective (nor its backward pass)."""


@contextmanager
def _stop_after(model: LoadedModel, tapped: Tap, entered: list[torch.Tensor]) -> Iterator[None]:
    """Stop this thread's forward passes at the first module whose input is not the tapped
    tensor once one is recorded: the layer's BatchNorm and activation, which the tap follows,
    take it as input and still run (their inputs are appended to `entered`); whatever comes
    after them does not. Hooks removed on exit."""
    owner = threading.get_ident()

    def check(_module: nn.Module, inputs: tuple[object, ...]) -> None:
        if threading.get_ident() != owner or not tapped.outputs:
            return
        if inputs and inputs[0] is tapped.outputs[-1]:
            entered.append(tapped.outputs[-1])
            return
        raise _Stop

    handles = [module.register_forward_pre_hook(check) for module in model.network.modules()]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def _frequencies(size: int) -> np.ndarray:
    """|f| of numpy's rfft2 grid for a size × size image: (size, size // 2 + 1)."""
    fy = np.fft.fftfreq(size)[:, None]
    fx = np.fft.rfftfreq(size)[None, :]
    return np.asarray(np.sqrt(fx * fx + fy * fy))


def _parameterisation(
    params: FeatureVisualisationParams, device: torch.device
) -> tuple[Any, torch.Tensor]:
    """(image_of, the tensor to optimise): image_of() -> (1, 3, size, size) pixels in [0, 1]."""
    size = params.size
    generator = torch.Generator().manual_seed(params.seed)
    if not params.decorrelate:
        logits = (torch.randn(1, 3, size, size, generator=generator) * 0.01).to(device)
        logits.requires_grad_(True)
        return lambda: torch.sigmoid(logits), logits
    frequencies = _frequencies(size)
    shape = (1, 3, *frequencies.shape, 2)
    spectrum = (torch.randn(*shape, generator=generator) * 0.01).to(device).requires_grad_(True)
    # 1/f: Lucid's scale, floored at the lowest frequency so the constant term stays finite.
    scale = 1.0 / np.maximum(frequencies, 1.0 / size)
    scale_t = torch.tensor(scale, dtype=torch.float32, device=device)[None, None, :, :, None]
    colours = torch.tensor(_COLOUR_CORRELATION.T, device=device)

    def image_of() -> torch.Tensor:
        scaled = torch.view_as_complex((scale_t * spectrum).contiguous())
        image = torch.fft.irfft2(scaled, s=(size, size), norm="ortho") / 4.0
        image = torch.einsum("nchw,cd->ndhw", image, colours)
        return torch.sigmoid(image)

    return image_of, spectrum


def _transform(
    pixels: torch.Tensor, params: FeatureVisualisationParams, chooser: random.Random
) -> torch.Tensor:
    """Lucid's standard robustness: pad with grey, jitter, scale, rotate, jitter a little."""
    pad = params.jitter + 4 if params.jitter else 0
    if pad:
        pixels = F.pad(pixels, (pad, pad, pad, pad), mode="constant", value=0.5)
    pixels = _jitter(pixels, params.jitter, chooser)
    scale = 1.0 + chooser.uniform(-params.scale, params.scale)
    angle = math.radians(chooser.uniform(-params.rotation, params.rotation))
    if scale != 1.0 or angle != 0.0:
        cos, sin = math.cos(angle) / scale, math.sin(angle) / scale
        theta = torch.tensor(
            [[cos, -sin, 0.0], [sin, cos, 0.0]], dtype=pixels.dtype, device=pixels.device
        )
        grid = F.affine_grid(theta[None], list(pixels.shape), align_corners=False)
        pixels = F.grid_sample(
            pixels, grid, mode="bilinear", padding_mode="border", align_corners=False
        )
    return _jitter(pixels, params.jitter // 2, chooser)


def _jitter(pixels: torch.Tensor, amount: int, chooser: random.Random) -> torch.Tensor:
    """A random crop `amount` pixels smaller on each axis: a shift of 0 to `amount`."""
    if amount <= 0:
        return pixels
    dy, dx = chooser.randint(0, amount), chooser.randint(0, amount)
    height, width = pixels.shape[2] - amount, pixels.shape[3] - amount
    return pixels[:, :, dy : dy + height, dx : dx + width]
