"""Explanations and attacks run as jobs: start, read, stream progress, cancel, fetch results."""

import asyncio
import io
import json
from collections.abc import AsyncIterator
from typing import Annotated

import numpy as np
from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse, StreamingResponse

from app.api.deps import WorkspaceDep, png_response
from app.api.schemas import AttackRequest, ExplanationRequest, JobView
from app.imaging import Display, amplify, pixels_to_image, render_map
from app.jobs.queue import Job
from app.workspace import Workspace

__all__ = ["router"]

router = APIRouter(tags=["jobs"])
_POLL_SECONDS = 0.1


def started_response(started: tuple[Job, bool], workspace: Workspace) -> JSONResponse:
    """201 for a new job, 200 for the job of an identical earlier request (a cache hit)."""
    job, new = started
    view = JobView.of(job, workspace, reused=not new)
    return JSONResponse(view.model_dump(mode="json"), status_code=201 if new else 200)


@router.post("/explanations", response_model=JobView, status_code=201)
def create_explanation(body: ExplanationRequest, workspace: WorkspaceDep) -> JSONResponse:
    """Start explaining one class of an image with one method; poll or stream the job."""
    return started_response(workspace.start_explanation(body.subject()), workspace)


@router.post("/attacks", response_model=JobView, status_code=201)
def create_attack(body: AttackRequest, workspace: WorkspaceDep) -> JSONResponse:
    """Start an attack; its result names the adversarial image, which can then be explained."""
    return started_response(workspace.start_attack(body.subject()), workspace)


@router.get("/jobs/{job_id}")
def read_job(job_id: str, workspace: WorkspaceDep) -> JobView:
    """Status, progress (0–1), ETA, and the result or the error."""
    return JobView.of(workspace.jobs.get(job_id), workspace)


@router.post("/jobs/{job_id}/cancel")
def cancel_job(job_id: str, workspace: WorkspaceDep) -> JobView:
    """Stop a job: a waiting job never starts, a running one stops at its next step."""
    return JobView.of(workspace.jobs.cancel(job_id), workspace)


@router.get("/jobs/{job_id}/events", response_class=StreamingResponse)
async def stream_job_events(job_id: str, workspace: WorkspaceDep) -> StreamingResponse:
    """Server-sent events: `progress` while the job changes, then one `end` with the job."""
    job = workspace.jobs.get(job_id)

    async def events() -> AsyncIterator[str]:
        last = None
        while True:
            terminal = job.status.terminal
            state = (job.status, round(job.progress, 3))
            if terminal or state != last:
                view = JobView.of(job, workspace).model_dump_json()
                yield f"event: {'end' if terminal else 'progress'}\ndata: {view}\n\n"
                last = state
            if terminal:
                return
            await asyncio.sleep(_POLL_SECONDS)

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(events(), media_type="text/event-stream", headers=headers)


@router.get("/jobs/{job_id}/overlay.png", response_class=Response)
def read_overlay(
    job_id: str, workspace: WorkspaceDep, display: Annotated[Display, Query()]
) -> Response:
    """The map drawn on the image with the given display settings."""
    result = workspace.explanation(job_id)
    picture = render_map(result.input, result.attribution, result.signed, display)
    return png_response(picture, filename=f"{result.method}-{result.target}.png")


@router.get("/jobs/{job_id}/map.npy", response_class=Response)
def read_map(job_id: str, workspace: WorkspaceDep) -> Response:
    """The (H, W) float32 map, as NumPy's .npy (np.load reads it)."""
    buffer = io.BytesIO()
    np.save(buffer, workspace.explanation(job_id).attribution)
    return Response(buffer.getvalue(), media_type="application/octet-stream")


@router.get("/jobs/{job_id}/perturbation.png", response_class=Response)
def read_perturbation(job_id: str, workspace: WorkspaceDep) -> Response:
    """The attack's perturbation, amplified to fill the range (the factor is in the header)."""
    pixels, factor = amplify(workspace.attack_outcome(job_id).result.perturbation)
    response = png_response(pixels_to_image(pixels))
    response.headers["X-Amplification"] = json.dumps(round(factor, 3))
    return response
