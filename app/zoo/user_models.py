"""A user's own models: a state dict for a known architecture (the default model's or a
torchvision one), with optional class names, stored under `data_dir/models/` as
`NAME.safetensors` (whatever the upload's format: safetensors or a weights-only torch file) and
`NAME.json` (architecture, class names, where it came from). Listed by app/catalog.py in the
group `yours`, loaded by name by load_model.

A file is checked before anything is stored: hostile files are refused (app/zoo/weights.py), a
state dict that does not fit the architecture is refused naming the first tensor that differs,
and the files are written under temporary names and renamed, so nothing is half-stored.
"""

import json
import os
import tempfile
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

import torch
from safetensors.torch import save_file
from torch import nn

from app.catalog import architectures, check_user_model_name, user_model_files
from app.errors import BadParameter, BadWeights, UnknownModel
from app.settings import Settings
from app.zoo.labels import read_labels
from app.zoo.spec import LoadedModel, ModelSpec
from app.zoo.weights import infer_num_classes, load_state_dict

__all__ = ["add_user_model", "first_mismatch", "load_user_model", "remove_user_model"]


def first_mismatch(network: nn.Module, state: Mapping[str, torch.Tensor]) -> str | None:
    """Why `state` does not fit `network`, naming the first tensor (in the network's order)
    that is missing or has another shape, or the first extra one; None when it fits."""
    expected = network.state_dict()
    for name, tensor in expected.items():
        if name not in state:
            return f"tensor {name} (shape {tuple(tensor.shape)}) is missing"
        if tuple(state[name].shape) != tuple(tensor.shape):
            return (
                f"tensor {name}: expected shape {tuple(tensor.shape)}, "
                f"got {tuple(state[name].shape)}"
            )
    extra = next((name for name in state if name not in expected), None)
    if extra is not None:
        return f"tensor {extra} (shape {tuple(state[extra].shape)}) is not in this architecture"
    return None


def _spec(architecture: str) -> ModelSpec:
    from app.zoo import get_spec  # the zoo's registry imports this module

    if architecture not in architectures():
        raise BadParameter(
            f"unknown architecture {architecture!r}; use the default model's name or a "
            "torchvision one (torchvision/resnet18, ...; lantern models --architectures lists them)"
        )
    return get_spec(architecture)


def _fitted(spec: ModelSpec, state: Mapping[str, torch.Tensor], file: str) -> nn.Module:
    num_classes = infer_num_classes(state, spec.architecture(1000)) or 1000
    network = spec.architecture(num_classes)
    problem = first_mismatch(network, state)
    if problem is not None:
        raise BadWeights(f"{file} does not fit {spec.name}: {problem}")
    network.load_state_dict(state, strict=True)
    return network


def add_user_model(
    settings: Settings,
    name: str,
    architecture: str,
    weights: Path,
    labels: Path | None = None,
    file_name: str | None = None,
) -> dict[str, object]:
    """Check and store a user's model; returns its description. `file_name`: what the user
    called the weights file (an upload's temporary file has another name)."""
    check_user_model_name(name)
    spec = _spec(architecture)
    shown = file_name or weights.name
    state = load_state_dict(weights, settings.max_weights_bytes)
    network = _fitted(spec, state, shown)
    classes = int(infer_num_classes(state, network) or 1000)
    if labels is not None:
        label_names = read_labels(labels)
        if len(label_names) != classes:
            raise BadWeights(
                f"the labels file names {len(label_names)} classes but the weights have {classes}"
            )
    else:
        default = spec.labels()
        label_names = default if len(default) == classes else [f"class {i}" for i in range(classes)]
    description: dict[str, object] = {
        "name": name,
        "architecture": architecture,
        "classes": classes,
        "labels": label_names,
        "parameters": sum(parameter.numel() for parameter in network.parameters()),
        "file": Path(shown).name,
        "uploaded": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    weights_path, described_path = user_model_files(settings, name)
    weights_path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {key: value.detach().contiguous() for key, value in network.state_dict().items()}
    weights_temporary = _temporary(weights_path)
    described_temporary = _temporary(described_path)
    try:
        save_file(tensors, str(weights_temporary))
        described_temporary.write_text(json.dumps(description, indent=1), encoding="utf-8")
        # The description last: a model is listed only once both files are in place.
        os.replace(weights_temporary, weights_path)
        os.replace(described_temporary, described_path)
    finally:
        weights_temporary.unlink(missing_ok=True)
        described_temporary.unlink(missing_ok=True)
    return description


def _temporary(path: Path) -> Path:
    handle, name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".part", dir=path.parent)
    os.close(handle)
    return Path(name)


def remove_user_model(settings: Settings, name: str) -> None:
    check_user_model_name(name)
    weights_path, described_path = user_model_files(settings, name)
    if not described_path.is_file():
        raise UnknownModel(f"there is no model of yours named {name!r}")
    described_path.unlink()  # first: from now on it is not listed
    weights_path.unlink(missing_ok=True)


def load_user_model(settings: Settings, name: str) -> LoadedModel | None:
    """The user's model `name`, or None when there is none by that name."""
    weights_path, described_path = user_model_files(settings, name)
    if not described_path.is_file() or not weights_path.is_file():
        return None
    description = json.loads(described_path.read_text(encoding="utf-8"))
    base = _spec(description["architecture"])
    network = _fitted(base, load_state_dict(weights_path, settings.max_weights_bytes), name)
    spec = ModelSpec(
        name=name,
        description=f"your {base.name} weights, {description['classes']} classes",
        build=lambda settings: network,
        architecture=base.architecture,
        preprocessing=base.preprocessing,
        labels=lambda: list(description["labels"]),
        grad_cam_layer=base.grad_cam_layer,
        stages=base.stages,
        weights_source=lambda settings: f"uploaded ({description['file']})",
    )
    return LoadedModel.from_network(
        spec,
        network,
        device=settings.torch_device(),
        labels=list(description["labels"]),
        weights=f"uploaded {description['uploaded']} ({description['file']})",
    )
