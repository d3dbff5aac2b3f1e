"""Shapes models show their ground truth: the lab's test images as samples (for a Shapes model),
each image's exact mask as an outline, and each finished map scored against it (pointing game,
mass inside; app/shapes/gallery.py)."""

from typing import Annotated

from fastapi import APIRouter, Query, Response
from PIL import Image
from pydantic import BaseModel

from app.api.deps import WorkspaceDep, png_response
from app.errors import BadParameter
from app.shapes.dataset import SHAPES
from app.shapes.gallery import (
    gallery_names,
    is_shapes_model,
    outline_path,
    sample_scores,
    shapes_sample,
    shows_sample,
)

__all__ = ["router"]

router = APIRouter(prefix="/shapes", tags=["shapes"])
_THUMBNAIL = 128  # the 64-px image enlarged 2× (nearest neighbour: its pixels stay sharp)


class ShapesSampleView(BaseModel):
    name: str  # POST /api/images/samples/{name} stores it like a sample photo
    label: int
    class_name: str
    thumbnail_url: str


class ShapesGallery(BaseModel):
    model: str
    shapes_model: bool  # the model's classes are the lab's ten: the gallery offers its images
    samples: list[ShapesSampleView]


class GroundTruthView(BaseModel):
    name: str
    label: int
    class_name: str
    width: int
    height: int
    outline: str  # SVG path data in pixel units (viewBox 0 0 width height)
    area_share: float  # the share of the image the shape covers


class GroundTruthScores(BaseModel):
    name: str
    job_id: str
    method: str
    pointing_hit: bool  # the map's maximum lies on the shape (Zhang et al., ECCV 2016)
    mass_inside: float  # positive mass on the shape / all positive mass
    area_share: float  # what a uniform map would score as mass inside


@router.get("/samples")
def list_shapes_samples(
    workspace: WorkspaceDep, model: Annotated[str | None, Query(max_length=200)] = None
) -> ShapesGallery:
    """The Shapes test images the gallery offers: one of each class when `model` is a Shapes
    classifier (its classes are the lab's ten), none otherwise."""
    loaded = workspace.models.get(model)
    offered = is_shapes_model(loaded)
    samples = []
    for name in gallery_names() if offered else []:
        label = shapes_sample(name).label
        samples.append(
            ShapesSampleView(
                name=name,
                label=label,
                class_name=SHAPES[label],
                thumbnail_url=f"/api/shapes/samples/{name}.png",
            )
        )
    return ShapesGallery(model=loaded.name, shapes_model=offered, samples=samples)


@router.get("/samples/{name}.png", response_class=Response)
def read_shapes_thumbnail(name: str) -> Response:
    """A Shapes test image, enlarged for the gallery."""
    image = Image.fromarray(shapes_sample(name).image)
    return png_response(image.resize((_THUMBNAIL, _THUMBNAIL), Image.Resampling.NEAREST))


@router.get("/samples/{name}/ground-truth")
def read_ground_truth(name: str) -> GroundTruthView:
    """The image's class and the exact outline of its shape's mask."""
    drawn = shapes_sample(name)
    height, width = drawn.mask.shape
    return GroundTruthView(
        name=name,
        label=drawn.label,
        class_name=SHAPES[drawn.label],
        width=width,
        height=height,
        outline=outline_path(drawn.mask),
        area_share=float(drawn.mask.mean()),
    )


@router.get("/samples/{name}/scores")
def read_ground_truth_scores(
    name: str, workspace: WorkspaceDep, job_id: Annotated[str, Query(max_length=64)]
) -> GroundTruthScores:
    """A finished explanation's map of this image scored against the shape's mask."""
    drawn = shapes_sample(name)
    explanation = workspace.explanation(job_id)
    if not shows_sample(explanation.input, drawn):
        raise BadParameter(f"explanation {job_id} is of another image than {name}")
    scores = sample_scores(explanation.attribution, drawn.mask)
    return GroundTruthScores(
        name=name,
        job_id=job_id,
        method=explanation.method,
        pointing_hit=bool(scores["pointing_hit"]),
        mass_inside=float(scores["mass_inside"]),
        area_share=float(scores["area_share"]),
    )
