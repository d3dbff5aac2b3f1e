"""The compression lab: recipes, evaluation sets, runs as jobs, and their saved reports, files
and maps."""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, UploadFile
from fastapi.params import File
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from app.api.catalog import catalog_entry
from app.api.deps import WorkspaceDep, png_response
from app.api.jobs import started_response
from app.api.schemas import RecipeEntry
from app.compress import RECIPES
from app.compress.analysis import layer_names
from app.compress.runs import RunParams, read_run, run_file, run_map, saved_runs
from app.errors import BadImage, RequestTooLarge
from app.imaging.overlay import Display, render_map

__all__ = ["router"]

router = APIRouter(prefix="/compress", tags=["compress"])


@router.get("/recipes")
def list_recipes() -> list[RecipeEntry]:
    """The compression recipes, each with its parameters' JSON schema (the page's forms)."""
    return [catalog_entry(recipe, RecipeEntry, sparsity=recipe.sparsity) for recipe in RECIPES]


@router.get("/run-params")
def read_run_params() -> dict[str, Any]:
    """The options of a run (`params` of POST /runs): JSON schema and defaults."""
    return {
        "schema": RunParams.model_json_schema(),
        "defaults": RunParams().model_dump(mode="json"),
    }


@router.get("/layers")
def list_layers(
    workspace: WorkspaceDep,
    model: Annotated[str | None, Query(max_length=200)] = None,
) -> list[str]:
    """The model's convolution and linear layers (for the activation histogram)."""
    return layer_names(workspace.models.get(model))


class DatasetView(BaseModel):
    id: str
    images: int
    labelled: bool
    classes: list[str]


@router.post("/datasets", status_code=201)
async def create_dataset(
    request: Request,
    workspace: WorkspaceDep,
    file: Annotated[UploadFile, File(description="A zip of images, or of one folder per class")],
) -> DatasetView:
    """Upload an evaluation set; every image is checked. Labelled when it has class folders."""
    limit = workspace.settings.max_dataset_bytes
    content = await file.read(limit + 1)
    if len(content) > limit:
        raise RequestTooLarge(f"the archive is over the limit of {limit:,} bytes")
    if not content:
        raise BadImage("the file is empty")
    info = await run_in_threadpool(workspace.add_dataset, content)
    return DatasetView(id=info.id, images=info.images, labelled=info.labelled, classes=info.classes)


class RunRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str | None = Field(None, max_length=200, description="Default: the server's model")
    dataset: str | None = Field(None, max_length=64, description="Uploaded set; default gallery")
    image_id: str | None = Field(None, max_length=64, description="Also explain this image")
    params: dict[str, Any] = Field(default_factory=dict, description="See RunParams")


@router.post("/runs", status_code=201)
def create_run(body: RunRequest, workspace: WorkspaceDep) -> JSONResponse:
    """Build and measure the requested variants as a job (its result is the run's report)."""
    started = workspace.start_compression(body.model, body.params, body.dataset, body.image_id)
    return started_response(started, workspace)


@router.get("/runs")
def list_runs(workspace: WorkspaceDep) -> list[dict[str, Any]]:
    """Saved runs, newest first."""
    return saved_runs(workspace.settings)


@router.get("/runs/{run_id}")
def read_run_report(run_id: str, workspace: WorkspaceDep) -> JSONResponse:
    """A saved run's report (also a download: report-<id>.json)."""
    return JSONResponse(
        read_run(workspace.settings, run_id),
        headers={"Content-Disposition": f'inline; filename="report-{run_id}.json"'},
    )


@router.get("/runs/{run_id}/files/{name}", response_class=FileResponse)
def read_run_file(run_id: str, name: str, workspace: WorkspaceDep) -> FileResponse:
    """A variant's file (.onnx or .safetensors), as listed in its row."""
    return FileResponse(
        run_file(workspace.settings, run_id, name),
        media_type="application/octet-stream",
        filename=f"{run_id}-{name}",
    )


@router.get("/runs/{run_id}/maps/{row}/{method}.png", response_class=Response)
def read_run_map(
    run_id: str,
    row: int,
    method: str,
    workspace: WorkspaceDep,
    display: Annotated[Display, Query()],
) -> Response:
    """One row's map of the run's current image, drawn like the explain page's panes."""
    pixels, attribution, signed = run_map(workspace.settings, run_id, row, method)
    return png_response(render_map(pixels, attribution, signed, display))
