"""Sanity checks and faithfulness scores of a method's map, as jobs."""

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from app.api.deps import WorkspaceDep, png_response
from app.api.jobs import started_response
from app.api.schemas import (
    ConsensusRequest,
    ConsensusView,
    FaithfulnessRequest,
    JobView,
    SanityRequest,
)
from app.errors import BadParameter
from app.imaging import Display, render_map

__all__ = ["router"]

router = APIRouter(tags=["trust"])


@router.post("/sanity", response_model=JobView, status_code=201)
def create_sanity_check(body: SanityRequest, workspace: WorkspaceDep) -> JSONResponse:
    """Model-parameter randomisation test (Adebayo et al., 2018) of one method's map."""
    started = workspace.start_sanity(body.subject(), body.mode, body.steps, body.seed)
    return started_response(started, workspace)


@router.post("/faithfulness", response_model=JobView, status_code=201)
def create_faithfulness(body: FaithfulnessRequest, workspace: WorkspaceDep) -> JSONResponse:
    """Deletion and insertion curves of one method's map, and of a random map."""
    started = workspace.start_faithfulness(
        body.subject(), body.steps, body.seed, body.deletion_baseline, body.insertion_baseline
    )
    return started_response(started, workspace)


@router.post("/consensus")
def create_consensus(body: ConsensusRequest, workspace: WorkspaceDep) -> ConsensusView:
    """Do finished explanations of one image and class point at the same region?"""
    found = workspace.consensus(body.job_ids)
    return ConsensusView(
        sentence=found.sentence,
        agreeing=len(found.agreeing),
        total=found.total,
        methods=found.agreeing,
        region=found.region,
    )


@router.get("/jobs/{job_id}/randomized/{step}.png", response_class=Response)
def read_randomized_map(job_id: str, step: int, workspace: WorkspaceDep) -> Response:
    """The map after randomisation step `step` (0 = the top layer), as a heat map of |value|."""
    result = workspace.sanity(job_id)
    if not 0 <= step < len(result.maps):
        raise BadParameter(f"step {step} does not exist: this test has {len(result.maps)} steps")
    display = Display(mode="heatmap", values="absolute")
    blank = result.maps[step][None].repeat(3, axis=0)
    return png_response(render_map(blank, result.maps[step], False, display))
