"""What route handlers share: the workspace the app was created with, and PNG responses."""

import io
from typing import Annotated

from fastapi import Depends, Request, Response
from PIL import Image

from app.workspace import Workspace

__all__ = ["WorkspaceDep", "png_response"]


def get_workspace(request: Request) -> Workspace:
    workspace: Workspace = request.app.state.workspace
    return workspace


WorkspaceDep = Annotated[Workspace, Depends(get_workspace)]


def png_response(image: Image.Image, filename: str | None = None) -> Response:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    headers = {"Cache-Control": "private, max-age=3600"}
    if filename:
        headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return Response(buffer.getvalue(), media_type="image/png", headers=headers)
