"""Model loading: one registry of specs, one safe way to load weights."""

import re
from pathlib import Path
from typing import cast, get_args

import torch

from app.catalog import COMPRESSED_PREFIX, LAB_PREFIX, unknown_model
from app.errors import BadParameter, BadWeights, UnknownModel
from app.registry import Registry
from app.settings import Settings
from app.zoo.efficientnet_lite import EFFICIENTNET_LITE0
from app.zoo.labels import read_labels
from app.zoo.spec import LoadedModel, ModelSpec, PixelClassifier
from app.zoo.torchvision_models import torchvision_specs
from app.zoo.user_models import load_user_model
from app.zoo.weights import apply_state_dict, infer_num_classes, load_state_dict

__all__ = [
    "COMPRESSED_PREFIX",
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
    if name.startswith(COMPRESSED_PREFIX):
        from app.compress.saved import load_variant  # the Compression lab builds on the zoo

        _no_files(name, weights, labels, "a compressed variant")
        # It runs on its own engines (int8 ONNX Runtime, its twin): nothing to defer.
        return load_variant(settings, name, lambda original: load_model(original, settings))
    if name.startswith(LAB_PREFIX):
        loaded = _load_lab_model(name, settings, weights, labels)
        if settings.fast_forward:
            loaded.defer_fast_forward()
            if prepare:
                loaded.prepare()
        return loaded
    if name not in MODELS:
        mine = load_user_model(settings, name) if weights is None and labels is None else None
        if mine is None:
            raise unknown_model(name, settings)
        if settings.fast_forward:
            mine.defer_fast_forward()
            if prepare:
                mine.prepare()
        return mine
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


def _no_files(name: str, weights: Path | None, labels: Path | None, what: str) -> None:
    if weights is not None or labels is not None:
        raise BadParameter(f"{name} is {what}: it takes no --weights or --labels")


def _load_lab_model(
    name: str, settings: Settings, weights: Path | None, labels: Path | None
) -> LoadedModel:
    """The lab's trained model `name` (its 10 classes, 64-px preprocessing), or why not."""
    # the lab builds on the zoo
    from app.shapes.storage import Trained, load_trained, model_path

    trained = name.removeprefix(LAB_PREFIX)
    known = get_args(Trained)
    # Any model file the lab wrote (student-from-labels, ...) loads as its teacher or student.
    written = re.fullmatch(r"[a-z0-9_-]{1,64}", trained) and model_path(settings, trained).is_file()
    if trained not in known and not written:
        names = ", ".join(LAB_PREFIX + item for item in known)
        raise unknown_model(name, settings, f"the Shapes lab's models are {names};")
    _no_files(name, weights, labels, "the lab's trained model")
    return load_trained(settings, cast(Trained, trained))


def _output_size(model: LoadedModel) -> int:
    size = model.input_size
    probe = torch.zeros(1, 3, size, size, device=model.device)
    return int(model.probabilities(probe).shape[-1])


register_model(EFFICIENTNET_LITE0)
for _spec in torchvision_specs():
    register_model(_spec)
