"""The Shapes lab: experiments as jobs, their saved reports, and few-shot from uploaded images."""

from typing import Annotated, Any

from fastapi import APIRouter, Body, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from app.api.catalog import catalog_entry
from app.api.deps import WorkspaceDep, png_response
from app.api.jobs import started_response
from app.api.schemas import CatalogEntry
from app.shapes import EXPERIMENTS, SIZE, saved_reports
from app.shapes.dataset import preview_grid

__all__ = ["router"]

router = APIRouter(prefix="/lab", tags=["lab"])


@router.get("/experiments")
def list_experiments() -> list[CatalogEntry]:
    """The lab's experiments, each with its parameters' JSON schema (the page's forms)."""
    return [catalog_entry(experiment, CatalogEntry) for experiment in EXPERIMENTS]


@router.get("/preview.png", response_class=Response)
def read_preview() -> Response:
    """Twenty Shapes images (two of each class, random textures), enlarged 2×, as a PNG."""
    return png_response(preview_grid(SIZE))


@router.get("/reports")
def read_reports(workspace: WorkspaceDep) -> dict[str, Any]:
    """The last report of each experiment (null when it never ran), as saved in the data dir."""
    return saved_reports(workspace.settings)


@router.post("/experiments/{name}", status_code=201)
def create_experiment_run(
    name: str,
    workspace: WorkspaceDep,
    params: Annotated[dict[str, Any], Body(default_factory=dict)],
) -> JSONResponse:
    """Run an experiment as a job (its report is the job's result)."""
    return started_response(workspace.start_lab(name, params), workspace)


class Example(BaseModel):
    model_config = ConfigDict(extra="forbid")

    image_id: str = Field(max_length=64)
    label: str = Field(min_length=1, max_length=100)


class FewShotRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str | None = Field(None, max_length=200, description="Default: the server's model")
    examples: list[Example] = Field(min_length=2, max_length=200)
    queries: list[str] = Field(min_length=1, max_length=20, description="Image ids to classify")
    k: int = Field(1, ge=1, le=50)


class NeighbourView(BaseModel):
    image_id: str
    label: str
    similarity: float


class FewShotView(BaseModel):
    image_id: str
    label: str
    votes: dict[str, float]
    neighbours: list[NeighbourView]


@router.post("/fewshot")
def classify_few_shot(body: FewShotRequest, workspace: WorkspaceDep) -> list[FewShotView]:
    """Classify images by their nearest labelled examples on the model's pretrained features;
    the neighbours are the explanation."""
    examples = [(example.image_id, example.label) for example in body.examples]
    predictions = workspace.fewshot(body.model, examples, body.queries, body.k)
    return [
        FewShotView(
            image_id=query,
            label=prediction.label,
            votes=prediction.votes,
            neighbours=[
                NeighbourView(image_id=examples[n.index][0], label=n.label, similarity=n.similarity)
                for n in prediction.neighbours
            ],
        )
        for query, prediction in zip(body.queries, predictions, strict=True)
    ]
