"""Torchvision's ImageNet classifiers, by name (`torchvision/resnet50`).

Weights come from a local file, never from the network: `<weights_dir>/torchvision-NAME.safetensors`
(or `.pth`), else torchvision's own file if it already sits in the torch hub cache.
"""

from pathlib import Path
from urllib.parse import urlparse

import torch
import torchvision
from torch import nn
from torchvision.models import Weights, get_model, get_model_weights, list_models

from app.errors import BadWeights
from app.imaging.preprocessing import Preprocessing
from app.settings import Settings
from app.zoo.labels import imagenet_labels
from app.zoo.spec import ModelSpec
from app.zoo.weights import apply_state_dict, load_state_dict

__all__ = ["PREFIX", "torchvision_specs"]

PREFIX = "torchvision/"
_IMAGENET = Preprocessing(
    resize=256, crop=224, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225)
)
# Grad-CAM layers that run once per forward; families not listed use the last spatial conv.
_GRAD_CAM_LAYERS = {
    "resnet": "layer4",
    "resnext": "layer4",
    "wide_resnet": "layer4",
    "regnet": "trunk_output",
    "mobilenet": "features",
    "efficientnet": "features",
    "convnext": "features",
    "densenet": "features",
    "mnasnet": "layers",
    "shufflenet": "conv5",
    "squeezenet": "features",
    "vgg": "features",
    "alexnet": "features",
}


def _default_weights(name: str) -> Weights | None:
    try:
        weights: Weights = get_model_weights(name).DEFAULT
    except (ValueError, AttributeError):
        return None
    return weights


def _preprocessing(weights: Weights | None) -> Preprocessing:
    if weights is None:
        return _IMAGENET
    transform = weights.transforms()
    return Preprocessing(
        resize=int(transform.resize_size[0]),
        crop=int(transform.crop_size[0]),
        mean=tuple(transform.mean),
        std=tuple(transform.std),
    )


def _cached_file(weights: Weights) -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(urlparse(weights.url).path).name


def _local_files(name: str, settings: Settings) -> list[Path]:
    stem = f"torchvision-{name}"
    return [settings.weights_dir / f"{stem}{suffix}" for suffix in (".safetensors", ".pth", ".pt")]


def _find_weights(name: str, settings: Settings) -> Path:
    candidates = _local_files(name, settings)
    weights = _default_weights(name)
    if weights is not None:
        candidates.append(_cached_file(weights))
    for path in candidates:
        if path.is_file():
            return path
    listed = ", ".join(str(path) for path in candidates)
    raise BadWeights(
        f"no weights for {PREFIX}{name} on this machine (Lantern never downloads); "
        f"put a state dict at one of: {listed}"
    )


def _spec(name: str) -> ModelSpec:
    weights = _default_weights(name)

    def architecture(num_classes: int = 1000) -> nn.Module:
        network: nn.Module = get_model(name, weights=None, num_classes=num_classes)
        return network

    def build(settings: Settings) -> nn.Module:
        path = _find_weights(name, settings)
        network = architecture()
        apply_state_dict(network, load_state_dict(path, settings.max_weights_bytes), path.name)
        return network

    def labels() -> list[str]:
        if weights is not None and "categories" in weights.meta:
            return list(weights.meta["categories"])
        return imagenet_labels()

    def weights_source(settings: Settings) -> str:
        try:
            return str(_find_weights(name, settings))
        except BadWeights:
            return f"no weights here: put a state dict at {_local_files(name, settings)[0]}"

    family = next((key for key in _GRAD_CAM_LAYERS if name.startswith(key)), None)
    return ModelSpec(
        name=PREFIX + name,
        description=f"torchvision {name}, ImageNet-1k (weights from a local file)",
        build=build,
        architecture=architecture,
        preprocessing=_preprocessing(weights),
        labels=labels,
        grad_cam_layer=_GRAD_CAM_LAYERS[family] if family else None,
        weights_source=weights_source,
    )


def torchvision_specs() -> list[ModelSpec]:
    names = list_models(module=torchvision.models)
    return [_spec(name) for name in names]
