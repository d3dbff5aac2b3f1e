"""Load weights from files without ever unpickling arbitrary objects.

Accepted: safetensors files, and `torch.load(weights_only=True)` state dicts (.pt/.pth/.bin).
Refused with a message: TorchScript archives, pickled modules or any pickle that holds more than
tensors and plain containers, files over the size limit.
"""

import pickle
import zipfile
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from app.errors import BadWeights

__all__ = ["apply_state_dict", "infer_num_classes", "load_state_dict"]


def load_state_dict(path: Path, max_bytes: int) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise BadWeights(f"{path}: no such weights file")
    size = path.stat().st_size
    if size > max_bytes:
        raise BadWeights(f"{path.name}: {size:,} bytes is over the limit of {max_bytes:,} bytes")
    if path.suffix == ".safetensors":
        return _load_safetensors(path)
    if _is_torchscript(path):
        raise BadWeights(
            f"{path.name} is a TorchScript archive; Lantern only loads state dicts "
            "(safetensors, or tensors saved with torch.save(model.state_dict()))"
        )
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        if "Unsupported global" in str(error):
            raise BadWeights(
                f"{path.name} was refused: it holds Python objects other than tensors, and "
                "Lantern never unpickles code. Save model.state_dict() instead, or use safetensors."
            ) from None
        raise BadWeights(f"{path.name} is not a readable PyTorch weights file") from None
    except (RuntimeError, EOFError, OSError, ValueError) as error:
        raise BadWeights(f"{path.name} is not a readable PyTorch weights file: {error}") from None
    return _as_state_dict(loaded, path.name)


def _load_safetensors(path: Path) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return dict(load_file(str(path), device="cpu"))
    except (SafetensorError, OSError, ValueError) as error:
        raise BadWeights(f"{path.name} is not a valid safetensors file: {error}") from None


def _is_torchscript(path: Path) -> bool:
    if not zipfile.is_zipfile(path):
        return False
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError):
        return False
    return any(name.endswith("constants.pkl") or "/code/" in name for name in names)


def _as_state_dict(loaded: object, name: str) -> dict[str, torch.Tensor]:
    if isinstance(loaded, Mapping):
        for key in ("state_dict", "model_state_dict", "model"):
            inner = loaded.get(key)
            if isinstance(inner, Mapping):
                loaded = inner
                break
    if not isinstance(loaded, Mapping) or not loaded:
        raise BadWeights(f"{name} does not hold a state dict (a mapping of names to tensors)")
    state: dict[str, torch.Tensor] = {}
    for key, value in loaded.items():
        if not isinstance(key, str) or not isinstance(value, torch.Tensor):
            raise BadWeights(f"{name}: entry {key!r} is not a tensor; expected a state dict")
        state[key.removeprefix("module.")] = value
    return state


def infer_num_classes(state: Mapping[str, torch.Tensor], template: nn.Module) -> int | None:
    """The classifier's output size in `state`: the length of the tensor under the name of the
    template architecture's last 1-D parameter (its classifier bias). Files keep no key order
    (safetensors sorts them), so the architecture's own order is used."""
    for name, parameter in reversed(list(template.named_parameters())):
        if parameter.ndim == 1 and name in state:
            return int(state[name].shape[0])
    return None


def apply_state_dict(network: nn.Module, state: Mapping[str, torch.Tensor], name: str) -> None:
    try:
        network.load_state_dict(state, strict=True)
    except RuntimeError as error:
        first = str(error).splitlines()[1:4]
        details = "; ".join(line.strip() for line in first)
        raise BadWeights(f"{name} does not fit this architecture: {details}") from None
