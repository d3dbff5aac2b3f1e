"""Upload an image (or pick a sample), and read it as a model sees it, with its predictions."""

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, UploadFile
from fastapi.params import File
from starlette.concurrency import run_in_threadpool

from app.api.deps import WorkspaceDep, png_response
from app.api.schemas import ImageView
from app.errors import BadImage, ImageTooLarge
from app.imaging import pixels_to_image
from app.workspace import Workspace

__all__ = ["router"]

router = APIRouter(tags=["images"])

ModelQuery = Annotated[str | None, Query(max_length=200, description="Default: the server's")]
TopQuery = Annotated[int, Query(ge=1, le=1000, description="How many predictions")]
_MULTIPART_OVERHEAD = 64 * 1024


def _view(workspace: Workspace, image_id: str, model: str | None, top: int) -> ImageView:
    name = model or workspace.settings.default_model
    predictions = workspace.predictions(image_id, name, top)
    return ImageView.of(workspace.images.get(image_id), name, predictions)


@router.post("/images", status_code=201)
async def create_image(
    request: Request,
    workspace: WorkspaceDep,
    file: Annotated[UploadFile, File(description="PNG, JPEG, WebP, BMP, GIF or TIFF")],
    model: ModelQuery = None,
    top: TopQuery = 5,
) -> ImageView:
    """Upload an image; returns its id, the model's view of it and the top-k predictions."""
    limit = workspace.settings.max_image_bytes
    declared = int(request.headers.get("content-length") or 0)
    if declared > limit + _MULTIPART_OVERHEAD:
        raise ImageTooLarge(f"the upload is {declared:,} bytes; the limit is {limit:,} bytes")
    content = await file.read(limit + 1)
    if not content:
        raise BadImage("the file is empty")
    name = file.filename or "upload"
    stored = await run_in_threadpool(workspace.add_upload, content, name)
    return await run_in_threadpool(_view, workspace, stored.id, model, top)


@router.post("/images/samples/{name}", status_code=201)
def create_sample_image(
    name: str, workspace: WorkspaceDep, model: ModelQuery = None, top: TopQuery = 5
) -> ImageView:
    """Use one of scikit-image's sample photos (GET /api/samples lists them), or a Shapes test
    image `shapes-N` (GET /api/shapes/samples lists those a Shapes model is offered)."""
    stored = workspace.add_sample(name)
    return _view(workspace, stored.id, model, top)


@router.get("/images/{image_id}")
def read_image(
    image_id: str, workspace: WorkspaceDep, model: ModelQuery = None, top: TopQuery = 5
) -> ImageView:
    """The image's predictions by `model` (another model than at upload time works too)."""
    return _view(workspace, image_id, model, top)


@router.get("/images/{image_id}/view.png", response_class=Response)
def read_image_view(image_id: str, workspace: WorkspaceDep, model: ModelQuery = None) -> Response:
    """The pixels the model sees (after resize and centre crop), as a PNG."""
    pixels = workspace.images.get(image_id).model_view(workspace.models.get(model)).numpy()
    return png_response(pixels_to_image(pixels))
