"""What the concept explorer's pages read: the stored channel index (app/concepts/index.py: the
index, one channel's details, its crops; a model name may hold '/', so it is a query parameter),
feature visualisations of a channel or a class (app/concepts/feature_visualisation.py) as
cancellable jobs with their cached images, and a channel's map on an uploaded image
(app/concepts/channel_map.py). Building an index is the engine's job (app/api/concepts.py)."""

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Response
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, Field

from app.api.deps import WorkspaceDep, png_response
from app.api.jobs import started_response
from app.concepts.channel_map import channel_map
from app.concepts.feature_visualisation import FeatureVisualisation
from app.concepts.index import channel_details, crop_path, read_index
from app.concepts.visualisation_job import (
    FeatureVisualisationRequest,
    start_feature_visualisation,
    visualisation_png,
)
from app.errors import UnknownAsset
from app.imaging import Display, render_map
from app.jobs.kinds import job_kind
from app.workspace import Workspace

__all__ = ["FeatureVisualisationView", "router"]

router = APIRouter(prefix="/concepts", tags=["concepts"])


@job_kind("feature_visualisation")
class FeatureVisualisationView(BaseModel):
    model: str
    layer: str | None
    channel: int | None
    target: int | None
    target_label: str | None
    steps: int = Field(description="Optimisation steps run (the budget)")
    size: int = Field(description="Side of the square image, in pixels")
    seconds: float = Field(description="Time the optimisation took (a cached result: then)")
    start: float = Field(description="The objective on the initial image")
    objective: float = Field(description="The objective on the final image")
    params: dict[str, Any]
    cached: bool = Field(description="True when an earlier run's stored image answered")
    image_url: str

    @classmethod
    def of(
        cls, job_id: str, result: FeatureVisualisation, workspace: Workspace
    ) -> "FeatureVisualisationView":
        return cls(
            model=result.model,
            layer=result.layer,
            channel=result.channel,
            target=result.target,
            target_label=result.target_label,
            steps=result.steps,
            size=result.size,
            seconds=result.seconds,
            start=result.start,
            objective=result.objective,
            params=result.params,
            cached=result.cached,
            image_url=f"/api/concepts/visualisations/{result.key}.png",
        )


_Model = Annotated[str, Query(max_length=200, description="A model name (may hold '/')")]
_Layer = Annotated[str, Query(max_length=200)]
_Channel = Annotated[int, Query(ge=0, le=100_000)]


@router.get("/index")
def read_concept_index(model: _Model, workspace: WorkspaceDep) -> dict[str, Any]:
    """The model's channel index (index.json): its data, and per layer the channel count and
    each channel's exemplars (image, box, value); 404 when the model has none yet."""
    index = read_index(workspace.settings, model)
    if index is None:
        raise UnknownAsset(f"{model} has no concept index yet (build one on /concepts)")
    return index


@router.get("/channel")
def read_concept_channel(
    model: _Model, layer: _Layer, channel: _Channel, workspace: WorkspaceDep
) -> dict[str, Any]:
    """One channel's page data: exemplars, activation histogram, the classes drawing on it."""
    return channel_details(workspace.settings, model, layer, channel)


@router.get("/crop.png", response_class=FileResponse)
def read_concept_crop(
    model: _Model,
    layer: _Layer,
    channel: _Channel,
    rank: Annotated[int, Query(ge=0, le=100)],
    workspace: WorkspaceDep,
) -> FileResponse:
    """Exemplar `rank` (0: the strongest) of a channel, cut to its box."""
    path = crop_path(workspace.settings, model, layer, channel, rank)
    return FileResponse(path, media_type="image/png")


@router.post("/visualisations", status_code=201)
def create_feature_visualisation(
    workspace: WorkspaceDep,
    body: Annotated[dict[str, Any], Body(description=FeatureVisualisationRequest.__doc__ or "")],
) -> JSONResponse:
    """Optimise an image for a channel (layer + channel) or a class (target): a job with
    progress per step; the same request again answers from the cache."""
    started = start_feature_visualisation(
        workspace.settings, workspace.jobs, workspace.models, body
    )
    return started_response(started, workspace)


@router.get("/visualisations/{key}.png", response_class=FileResponse)
def read_feature_visualisation(key: str, workspace: WorkspaceDep) -> FileResponse:
    """The image of a finished feature visualisation (its job result's image_url)."""
    return FileResponse(visualisation_png(workspace.settings, key), media_type="image/png")


@router.get("/channel-map.png", response_class=Response)
def read_channel_map(
    workspace: WorkspaceDep,
    image_id: Annotated[str, Query(max_length=64)],
    layer: Annotated[str, Query(max_length=200)],
    channel: Annotated[int, Query(ge=0)],
    model: Annotated[str | None, Query(max_length=200)] = None,
    legend: bool = True,
) -> Response:
    """A channel's activation on an uploaded image, upsampled over the model's view of it, with
    its colour bar (the channel's own units; blue-red when it takes both signs)."""
    loaded = workspace.models.get(model)
    pixels = workspace.images.get(image_id).model_view(loaded)
    values = channel_map(loaded, layer, channel, pixels)
    picture = render_map(
        pixels.cpu().numpy(), values, bool(values.min() < 0), Display(legend=legend)
    )
    return png_response(picture, filename=f"channel-{channel}.png")
