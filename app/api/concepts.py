"""The concept engine's jobs (app/concepts/jobs.py): build a channel index, break a prediction
down into channels, run TCAV. The explorer's reads (the index, a channel, its crops, feature
visualisations) are in app/api/concept_explorer.py.

    POST /api/concepts/index      {model?, data, layers, top}        -> job concept_index
    POST /api/concepts/breakdown  {model?, image_id, layer, target?, top} -> job concept_breakdown
    POST /api/concepts/tcav       {model?, concept, randoms, layers, target, inputs, count, seed}
                                                                      -> job tcav
"""

from typing import Annotated, Any

from fastapi import APIRouter, Body
from fastapi.responses import JSONResponse

from app.api.deps import WorkspaceDep
from app.api.jobs import started_response
from app.concepts.jobs import (
    BreakdownRequest,
    IndexRequest,
    TcavRequest,
    start_breakdown,
    start_index,
    start_tcav,
)
from app.jobs.kinds import job_kind
from app.workspace import Workspace

__all__ = ["router"]

router = APIRouter(prefix="/concepts", tags=["concepts"])


@job_kind("concept_index")
@job_kind("concept_breakdown")
@job_kind("tcav")
class ConceptResultView:
    """Concept jobs: their result dict as JSON. concept_index: {model, data, images, engine,
    layers: {L: {channels, tapped_as}}} (the index itself: GET /api/concepts/index);
    concept_breakdown: app.concepts.breakdown.breakdown's dict; tcav: run_tcav's dict."""

    @classmethod
    def of(cls, job_id: str, result: dict[str, Any], workspace: Workspace) -> dict[str, Any]:
        return result


@router.post("/index", status_code=201)
def create_concept_index(
    workspace: WorkspaceDep,
    body: Annotated[dict[str, Any], Body(description=IndexRequest.__doc__ or "")],
) -> JSONResponse:
    """Index DATA at the layers: every channel's top images, boxes, histogram, classes."""
    started = start_index(workspace.settings, workspace.jobs, workspace.models, body)
    return started_response(started, workspace)


@router.post("/breakdown", status_code=201)
def create_concept_breakdown(
    workspace: WorkspaceDep,
    body: Annotated[dict[str, Any], Body(description=BreakdownRequest.__doc__ or "")],
) -> JSONResponse:
    """The channels of a layer that contribute most to a class on an uploaded image
    (gradient × activation per channel), each with its heatmap at the layer's resolution."""

    def pixels_of(image_id: str, model: Any) -> Any:
        return workspace.images.get(image_id).model_view(model)

    started = start_breakdown(workspace.settings, workspace.jobs, workspace.models, body, pixels_of)
    return started_response(started, workspace)


@router.post("/tcav", status_code=201)
def create_tcav(
    workspace: WorkspaceDep,
    body: Annotated[dict[str, Any], Body(description=TcavRequest.__doc__ or "")],
) -> JSONResponse:
    """TCAV scores of a concept for a class at each layer, with p-values against
    random-vs-random scores (Captum's TCAV)."""
    started = start_tcav(workspace.settings, workspace.jobs, workspace.models, body)
    return started_response(started, workspace)
