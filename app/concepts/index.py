"""The channel index: for every channel of the chosen layers, the images that excite it most.

One forward pass per image (eager PyTorch, batched) records, per channel, its activation at each
image — the maximum over positions of the layer's post-activation output (app/concepts/tap.py)
— and where that maximum is. Kept: the top-k images per channel, each with the receptive-field
box of its maximum and a crop; a histogram of the activation over all images; the predicted
classes whose images excite the channel most (mean activation per predicted class).

On disk, in `index_folder(settings, model)` (data_dir/concepts/<safe model name>/) or any
folder given to `write_index`:

    index.json        {"model", "data", "images", "engine", "layers": {L: {"channels": N,
                       "shape": [C, H, W], "tapped_as", "exemplars": {"C": [{"image", "box":
                       [top, left, bottom, right], "value", "position": [y, x], "crop"}]}}}}
    LAYER.channels.json  {"C": {"histogram": {"edges": [...], "counts": [...]},
                          "classes": [{"class", "label", "mean", "images"}]}}   (per layer)
    crops/LAYER/C_RANK.png  the exemplar's box cut from the model's view, 96 × 96

Boxes are in the model's view of the image (input_size × input_size pixels after resize and
centre crop), bottom and right exclusive. "value" is the channel's activation (its maximum).
"""

import io
import json
import math
import re
import shutil
from collections.abc import Iterable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from app.concepts.tap import ReceptiveField, check_layers, receptive_field, tap
from app.errors import BadParameter, UnknownAsset
from app.params import Progress, no_progress
from app.settings import Settings
from app.zoo import LoadedModel

__all__ = [
    "CROP_SIZE",
    "HISTOGRAM_BINS",
    "build_index",
    "channel_details",
    "crop_path",
    "index_folder",
    "read_index",
    "write_index",
]

CROP_SIZE = 96
HISTOGRAM_BINS = 20
TOP_CLASSES = 5
BATCH = 16


@dataclass
class _Layer:
    """Running state of one layer: the top-k (value, image, y, x) per channel."""

    field: ReceptiveField
    shape: tuple[int, int, int]
    tapped_as: str
    values: torch.Tensor  # (C, k) float, -inf where empty
    images: torch.Tensor  # (C, k) long, -1 where empty
    positions: torch.Tensor  # (C, k, 2) long
    all_values: list[torch.Tensor]  # per batch (B, C): every image's activation


def build_index(
    model: LoadedModel,
    images: Iterable[tuple[str, torch.Tensor]],
    layers: list[str],
    top: int = 9,
    progress: Progress = no_progress,
    total: int | None = None,
    data: str = "",
) -> dict[str, Any]:
    """Index `images` ((name, (3, S, S) pixels in [0, 1] at the model's input size) pairs) at
    `layers`. Returns the index dict of the module docstring, plus two private keys that
    `write_index` stores and drops: "_crops" ({layer: {channel: [PIL crops]}}) and "_details"
    ({layer: {channel: details}}). `progress(done, total)` after each batch (total: `total` or
    0 when unknown); it may raise Cancelled."""
    if not 1 <= top <= 100:
        raise BadParameter("--top must be between 1 and 100")
    shapes = check_layers(model, layers)
    state: dict[str, _Layer] = {}
    for name, shape in shapes.items():
        channels = shape[1]
        state[name] = _Layer(
            field=receptive_field(model, name),
            shape=(shape[1], shape[2], shape[3]),
            tapped_as="output",
            values=torch.full((channels, top), -math.inf),
            images=torch.full((channels, top), -1, dtype=torch.long),
            positions=torch.zeros((channels, top, 2), dtype=torch.long),
            all_values=[],
        )
    names: list[str] = []
    kept: dict[int, np.ndarray] = {}  # uint8 (S, S, 3) of the images some channel still keeps
    predictions: list[torch.Tensor] = []
    batch: list[tuple[str, torch.Tensor]] = []
    for item in images:
        batch.append(item)
        if len(batch) == BATCH:
            _run_batch(model, batch, names, kept, predictions, state)
            batch = []
            progress(len(names), total or 0)
    if batch:
        _run_batch(model, batch, names, kept, predictions, state)
        progress(len(names), total or 0)
    if not names:
        raise BadParameter("no images to index")
    predicted = torch.cat(predictions)
    index: dict[str, Any] = {
        "model": model.name,
        "data": data,
        "images": len(names),
        "engine": "PyTorch (eager)",
        "layers": {},
        "_crops": {},
        "_details": {},
    }
    cut: dict[tuple[int, ...], Image.Image] = {}
    for name, layer in state.items():
        exemplars: dict[str, list[dict[str, Any]]] = {}
        crops: dict[str, list[Image.Image]] = {}
        for channel in range(layer.shape[0]):
            rows = []
            channel_crops = []
            for rank in range(top):
                image = int(layer.images[channel, rank])
                if image < 0:
                    break
                y, x = (int(v) for v in layer.positions[channel, rank])
                box = layer.field.box(y, x)
                rows.append(
                    {
                        "image": names[image],
                        "box": box,
                        "value": float(layer.values[channel, rank]),
                        "position": [y, x],
                        "crop": f"crops/{_safe(name)}/{channel}_{rank}.png",
                    }
                )
                # Late layers' boxes are the whole image: one crop per (image, box), shared.
                where = (image, *box)
                if where not in cut:
                    cut[where] = _crop(kept[image], box)
                channel_crops.append(cut[where])
            exemplars[str(channel)] = rows
            crops[str(channel)] = channel_crops
        values = torch.cat(layer.all_values)  # (N, C)
        index["layers"][name] = {
            "channels": layer.shape[0],
            "shape": list(layer.shape),
            "tapped_as": layer.tapped_as,
            "exemplars": exemplars,
        }
        index["_crops"][name] = crops
        index["_details"][name] = _details(values, predicted, model.labels)
    return index


@torch.no_grad()
def _run_batch(
    model: LoadedModel,
    batch: list[tuple[str, torch.Tensor]],
    names: list[str],
    kept: dict[int, np.ndarray],
    predictions: list[torch.Tensor],
    state: dict[str, _Layer],
) -> None:
    start = len(names)
    pixels = torch.stack([pixels for _, pixels in batch]).to(model.device)
    size = model.input_size
    if pixels.shape[1:] != (3, size, size):
        raise BadParameter(f"images must be (3, {size}, {size}) pixels, got {tuple(pixels.shape)}")
    with ExitStack() as stack:
        opened = {name: stack.enter_context(tap(model, name)) for name in state}
        logits = model.module(pixels)
        taps = {name: found.outputs[-1] for name, found in opened.items()}
        tapped_as = {name: found.tapped_as for name, found in opened.items()}
    predictions.append(logits.argmax(dim=1).cpu())
    for offset, (name, _) in enumerate(batch):
        names.append(name)
        kept[start + offset] = (pixels[offset].permute(1, 2, 0).cpu().numpy() * 255 + 0.5).astype(
            np.uint8
        )
    ids = torch.arange(start, start + len(batch))
    for name, layer in state.items():
        output = taps[name].float().cpu()  # (B, C, H, W)
        layer.tapped_as = tapped_as[name]
        flat = output.flatten(2)  # (B, C, H*W)
        values, where = flat.max(dim=2)  # first maximum in row-major order
        layer.all_values.append(values)
        width = output.shape[3]
        # Merge: candidates are the kept top-k plus this batch, per channel.
        all_values = torch.cat([layer.values, values.T], dim=1)  # (C, k + B)
        all_images = torch.cat([layer.images, ids.expand(layer.shape[0], -1)], dim=1)
        batch_positions = torch.stack([where // width, where % width], dim=2).transpose(0, 1)
        all_positions = torch.cat([layer.positions, batch_positions], dim=1)
        # Stable order: ties keep the earlier image (the kept ones come first).
        order = torch.sort(all_values, dim=1, descending=True, stable=True).indices
        order = order[:, : layer.values.shape[1]]
        layer.values = torch.gather(all_values, 1, order)
        layer.images = torch.gather(all_images, 1, order)
        layer.positions = torch.gather(all_positions, 1, order[..., None].expand(-1, -1, 2))
    needed = {int(i) for layer in state.values() for i in layer.images.flatten() if i >= 0}
    for image in list(kept):
        if image not in needed:
            del kept[image]


def _crop(pixels: np.ndarray, box: list[int]) -> Image.Image:
    top, left, bottom, right = box
    return Image.fromarray(pixels[top:bottom, left:right]).resize(
        (CROP_SIZE, CROP_SIZE), Image.Resampling.BICUBIC
    )


def _details(values: torch.Tensor, predicted: torch.Tensor, labels: list[str]) -> dict[str, Any]:
    """Per channel: the activation histogram over all images and the predicted classes whose
    images excite it most (their mean activation)."""
    details: dict[str, Any] = {}
    classes = torch.unique(predicted)
    counts = torch.stack([(predicted == c).sum() for c in classes])
    means = torch.stack([values[predicted == c].mean(dim=0) for c in classes])  # (K, C)
    for channel in range(values.shape[1]):
        column = values[:, channel].numpy()
        low, high = float(column.min()), float(column.max())
        if high <= low:
            high = low + 1.0
        histogram, edges = np.histogram(column, bins=HISTOGRAM_BINS, range=(low, high))
        order = torch.argsort(means[:, channel], descending=True, stable=True)[:TOP_CLASSES]
        details[str(channel)] = {
            "histogram": {"edges": [float(e) for e in edges], "counts": histogram.tolist()},
            "classes": [
                {
                    "class": int(classes[k]),
                    "label": labels[int(classes[k])],
                    "mean": float(means[k, channel]),
                    "images": int(counts[k]),
                }
                for k in order
            ],
        }
    return details


def _safe(name: str) -> str:
    """A file-name-safe form of a model or layer name ('shapes/teacher' -> 'shapes_teacher')."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)


def index_folder(settings: Settings, model_name: str) -> Path:
    """Where the server keeps the index of `model_name`: data_dir/concepts/<safe name>/."""
    return settings.data_dir / "concepts" / _safe(model_name)


def write_index(index: dict[str, Any], folder: Path) -> Path:
    """Write index.json, the per-layer channel details and the crops into `folder` (replacing
    what was there: written to a sibling folder first, then moved, so a reader never sees half
    an index). Returns the path of index.json."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = folder.with_name(folder.name + ".partial")
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir()
    crops = index.get("_crops", {})
    details = index.get("_details", {})
    public = {key: value for key, value in index.items() if not key.startswith("_")}
    encoded: dict[int, bytes] = {}
    for layer, channels in crops.items():
        layer_folder = staging / "crops" / _safe(layer)
        layer_folder.mkdir(parents=True)
        for channel, images in channels.items():
            for rank, image in enumerate(images):
                if id(image) not in encoded:  # a crop shared by several channels: encoded once
                    buffer = io.BytesIO()
                    image.save(buffer, format="PNG")
                    encoded[id(image)] = buffer.getvalue()
                (layer_folder / f"{channel}_{rank}.png").write_bytes(encoded[id(image)])
    for layer, per_channel in details.items():
        (staging / f"{_safe(layer)}.channels.json").write_text(json.dumps(per_channel))
    (staging / "index.json").write_text(json.dumps(public))
    if folder.exists():
        old = folder.with_name(folder.name + ".old")
        if old.exists():
            shutil.rmtree(old)
        folder.rename(old)
        staging.rename(folder)
        shutil.rmtree(old)
    else:
        staging.rename(folder)
    return folder / "index.json"


def read_index(settings: Settings, model_name: str) -> dict[str, Any] | None:
    """The stored index of `model_name` (the dict of the module docstring), or None."""
    path = index_folder(settings, model_name) / "index.json"
    if not path.is_file():
        return None
    index: dict[str, Any] = json.loads(path.read_text())
    return index


def channel_details(
    settings: Settings, model_name: str, layer: str, channel: int
) -> dict[str, Any]:
    """One channel's page data: {"model", "layer", "channel", "channels", "tapped_as",
    "exemplars", "histogram", "classes"}; UnknownAsset when not indexed."""
    index = read_index(settings, model_name)
    if index is None:
        raise UnknownAsset(f"{model_name} has no concept index yet (lantern concepts index)")
    if layer not in index["layers"]:
        known = ", ".join(index["layers"])
        raise UnknownAsset(f"layer {layer!r} of {model_name} is not indexed; indexed: {known}")
    entry = index["layers"][layer]
    if not 0 <= channel < entry["channels"]:
        raise UnknownAsset(f"{layer} has channels 0-{entry['channels'] - 1}, not {channel}")
    path = index_folder(settings, model_name) / f"{_safe(layer)}.channels.json"
    details = json.loads(path.read_text())[str(channel)]
    return {
        "model": model_name,
        "layer": layer,
        "channel": channel,
        "channels": entry["channels"],
        "tapped_as": entry.get("tapped_as", "output"),
        "exemplars": entry["exemplars"][str(channel)],
        "histogram": details["histogram"],
        "classes": details["classes"],
    }


def crop_path(settings: Settings, model_name: str, layer: str, channel: int, rank: int) -> Path:
    """The PNG of exemplar `rank` (0 = strongest) of a channel; UnknownAsset when absent."""
    path = index_folder(settings, model_name) / "crops" / _safe(layer) / f"{channel}_{rank}.png"
    if not path.is_file():
        raise UnknownAsset(f"no crop {rank} for {model_name} {layer} channel {channel}")
    return path
