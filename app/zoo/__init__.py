"""Model loading: one registry of specs, one safe way to load weights."""

from pathlib import Path
from typing import cast, get_args

import torch

from app.errors import BadParameter, BadWeights, UnknownModel
from app.registry import Registry
from app.settings import Settings
from app.zoo.efficientnet_lite import EFFICIENTNET_LITE0
from app.zoo.labels import read_labels
from app.zoo.spec import LoadedModel, ModelSpec, PixelClassifier
from app.zoo.torchvision_models import torchvision_specs
from app.zoo.weights import apply_state_dict, infer_num_classes, load_state_dict

__all__ = [
    "LAB_PREFIX",
    "MODELS",
    "LoadedModel",
    "ModelSpec",
    "PixelClassifier",
    "get_spec",
    "load_model",
    "register_model",
]

MODELS: Registry[ModelSpec] = Registry("model", UnknownModel)


def register_model(spec: ModelSpec) -> ModelSpec:
    return MODELS.add(spec.name, spec)


def get_spec(name: str) -> ModelSpec:
    return MODELS.get(name)


def load_model(
    name: str,
    settings: Settings,
    weights: Path | None = None,
    labels: Path | None = None,
    prepare: bool = False,
) -> LoadedModel:
    """Build a registered model on the configured device.

    With `weights`, a user's own state dict for the same architecture (safetensors or
    weights-only torch files); its class count is read from the file.
    """
    if name.startswith(LAB_PREFIX):
        loaded = _load_lab_model(name, settings, weights, labels)
        if settings.fast_forward:
            loaded.defer_fast_forward()
            if prepare:
                loaded.prepare()
        return loaded
    spec = get_spec(name)
    label_names = read_labels(labels) if labels is not None else None
    if weights is None:
        network = spec.build(settings)
        source = spec.weights_source(settings)
    else:
        state = load_state_dict(weights, settings.max_weights_bytes)
        # Unknown classifier names: keep the default head and let the strict load say what differs.
        num_classes = infer_num_classes(state, spec.architecture(1000)) or 1000
        network = spec.architecture(num_classes)
        apply_state_dict(network, state, weights.name)
        source = str(weights)
        if label_names is None:
            default = spec.labels()
            numbered = [f"class {index}" for index in range(num_classes)]
            label_names = default if len(default) == num_classes else numbered
    loaded = LoadedModel.from_network(
        spec, network, device=settings.torch_device(), labels=label_names, weights=source
    )
    output_size = _output_size(loaded)
    if output_size != loaded.num_classes:
        raise BadWeights(
            f"{name} gives {output_size} outputs but has {loaded.num_classes} class names"
        )
    if settings.fast_forward:
        loaded.defer_fast_forward()
        if prepare:
            loaded.prepare()
    return loaded


LAB_PREFIX = "shapes/"
"""Names of the Shapes lab's trained models: shapes/teacher, shapes/student (app/shapes)."""


def _load_lab_model(
    name: str, settings: Settings, weights: Path | None, labels: Path | None
) -> LoadedModel:
    """The lab's trained model `name` (its 10 classes, 64-px preprocessing), or why not."""
    from app.shapes.storage import Trained, load_trained  # the lab builds on the zoo

    trained = name.removeprefix(LAB_PREFIX)
    known = get_args(Trained)
    if trained not in known:
        names = ", ".join(LAB_PREFIX + item for item in known)
        raise UnknownModel(f"unknown model {name!r}; the Shapes lab's models are {names}")
    if weights is not None or labels is not None:
        raise BadParameter(f"{name} is the lab's trained model: it takes no --weights or --labels")
    return load_trained(settings, cast(Trained, trained))


def _output_size(model: LoadedModel) -> int:
    size = model.input_size
    probe = torch.zeros(1, 3, size, size, device=model.device)
    return int(model.probabilities(probe).shape[-1])


register_model(EFFICIENTNET_LITE0)
for _spec in torchvision_specs():
    register_model(_spec)
