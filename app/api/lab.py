"""The Shapes lab: experiments as jobs, their saved reports, and few-shot from uploaded images."""

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Body, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from app.api.catalog import catalog_entry
from app.api.deps import WorkspaceDep, png_response
from app.api.jobs import started_response
from app.api.schemas import CatalogEntry
from app.jobs.kinds import job_kind
from app.jobs.queue import JobStatus
from app.shapes import EXPERIMENTS, SIZE, saved_reports
from app.shapes.dataset import preview_grid
from app.shapes.fewshot import FewShotResult
from app.workspace import Workspace

__all__ = ["router"]

router = APIRouter(prefix="/lab", tags=["lab"])
_POLL_SECONDS = 0.02


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


@job_kind("fewshot")
class FewShotResultView:
    """A few-shot job's predictions, each query with its neighbours (the explanation)."""

    @classmethod
    def of(cls, job_id: str, result: FewShotResult, workspace: Workspace) -> list[FewShotView]:
        return [
            FewShotView(
                image_id=query,
                label=prediction.label,
                votes=prediction.votes,
                neighbours=[
                    NeighbourView(
                        image_id=result.examples[n.index], label=n.label, similarity=n.similarity
                    )
                    for n in prediction.neighbours
                ],
            )
            for query, prediction in zip(result.queries, result.predictions, strict=True)
        ]


@router.post("/fewshot", response_model=list[FewShotView])
async def classify_few_shot(
    body: FewShotRequest, workspace: WorkspaceDep, response: Response
) -> Any:
    """Classify images by their nearest labelled examples on the model's pretrained features;
    the neighbours are the explanation. The work runs as a job (within the queue's share and
    deadlines); this request waits for it."""
    examples = [(example.image_id, example.label) for example in body.examples]
    job, _ = await run_in_threadpool(
        workspace.start_fewshot, body.model, examples, body.queries, body.k
    )
    response.headers["X-Lantern-Job"] = job.id  # GET /api/jobs/ID reads it again
    while not job.status.terminal:
        await asyncio.sleep(_POLL_SECONDS)
    if job.status != JobStatus.DONE:
        detail = job.error or f"the few-shot job was {job.status.value}"
        return JSONResponse({"detail": detail}, status_code=job.error_status or 503)
    return FewShotResultView.of(job.id, job.result, workspace)
