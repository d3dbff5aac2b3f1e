"""A user's own models: upload a state dict for a known architecture, remove it again.

The upload is a multipart form (name, architecture, weights file, optional labels file); the
file is checked as every weights file is (app/zoo/weights.py) and stored under
`data_dir/models/` only when it fits (app/zoo/user_models.py).
"""

import shutil
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Form, Response, UploadFile
from fastapi.params import File
from starlette.concurrency import run_in_threadpool

from app.api.catalog import model_view
from app.api.deps import WorkspaceDep
from app.api.schemas import ModelView
from app.catalog import architectures, catalog, check_user_model_name
from app.errors import BadWeights, RequestTooLarge
from app.settings import Settings
from app.zoo.user_models import add_user_model, remove_user_model

__all__ = ["router"]

router = APIRouter(tags=["catalog"])
_WEIGHTS_SUFFIXES = (".safetensors", ".pt", ".pth", ".bin")
_LABELS_LIMIT = 1024 * 1024


@router.get("/architectures")
def list_architectures() -> list[str]:
    """The architectures an uploaded state dict may name: the default model's, torchvision's."""
    return architectures()


def _copy(upload: UploadFile, path: Path, limit: int) -> None:
    with path.open("wb") as target:
        shutil.copyfileobj(upload.file, target, 1024 * 1024)
    if path.stat().st_size > limit:
        raise RequestTooLarge(f"{upload.filename}: over the limit of {limit:,} bytes")


def _store(
    settings: Settings,
    name: str,
    architecture: str,
    weights: UploadFile,
    labels: UploadFile | None,
) -> None:
    check_user_model_name(name)
    file_name = Path(weights.filename or "weights").name
    suffix = Path(file_name).suffix.lower()
    if suffix not in _WEIGHTS_SUFFIXES:
        raise BadWeights(
            f"{file_name}: upload a state dict as .safetensors, or a weights-only torch file "
            "(.pt, .pth, .bin)"
        )
    with tempfile.TemporaryDirectory(prefix="lantern-upload-") as folder:
        weights_path = Path(folder) / f"weights{suffix}"
        _copy(weights, weights_path, settings.max_weights_bytes)
        labels_path = None
        if labels is not None and labels.filename:
            labels_path = Path(folder) / "labels.txt"
            _copy(labels, labels_path, _LABELS_LIMIT)
        add_user_model(settings, name, architecture, weights_path, labels_path, file_name)


@router.post("/models", status_code=201)
async def create_model(
    workspace: WorkspaceDep,
    name: Annotated[str, Form(max_length=64, description="Its name in every model menu")],
    architecture: Annotated[str, Form(max_length=200, description="GET /api/architectures")],
    weights: Annotated[UploadFile, File(description="safetensors or a weights-only state dict")],
    labels: Annotated[UploadFile | None, File(description="Class names, one a line")] = None,
) -> ModelView:
    """Add a model of yours: checked (hostile files refused, the first tensor that does not
    fit the architecture named), then stored; nothing is kept when a check fails."""
    settings = workspace.settings
    await run_in_threadpool(_store, settings, name, architecture, weights, labels)
    entry = next(entry for entry in catalog(settings) if entry.name == name)
    return model_view(entry, workspace)


@router.delete("/models/{name}", status_code=204)
def delete_model(name: str, workspace: WorkspaceDep) -> Response:
    """Remove a model of yours (built-in, lab and compressed models are not removed here)."""
    remove_user_model(workspace.settings, name)
    return Response(status_code=204)
