"""Dataset audits (app/audit/) as jobs: start one; its report is the job's result. Then the
finished audits: list, read, the images of a class, each image and stored map as a picture,
an image opened on the Explain page, the live progress of a run, two audits compared."""

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Body, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from PIL import Image

from app.api.deps import WorkspaceDep, png_response
from app.api.jobs import started_response
from app.api.pages import NAV
from app.audit import store
from app.audit.job import AuditRequest, start_audit
from app.errors import BadParameter

__all__ = ["router"]

router = APIRouter(tags=["audit"])

AuditId = Annotated[str, "24 hex digits"]


@router.post("/audits", status_code=201)
def create_audit(
    workspace: WorkspaceDep,
    body: Annotated[dict[str, Any], Body(description=AuditRequest.__doc__ or "")],
) -> JSONResponse:
    """Audit Shapes data or an uploaded zip: accuracy, calibration, label issues, shortcuts."""
    return started_response(
        start_audit(workspace.settings, workspace.jobs, workspace.models, body), workspace
    )


@router.get("/audits")
def list_audits(workspace: WorkspaceDep) -> list[dict[str, Any]]:
    """The finished audits on this server, newest first."""
    return store.list_audits(workspace.settings)


@router.get("/audits/compare")
def compare_audits(
    workspace: WorkspaceDep,
    first: Annotated[str, Query(max_length=24)],
    second: Annotated[str, Query(max_length=24)],
) -> dict[str, Any]:
    """Two audits of the same images (a model and its compressed copy, a teacher and its
    student): the headline and every class's scores side by side, with second - first."""
    if first == second:
        raise BadParameter("compare two different audits")
    return store.compare_audits(workspace.settings, first, second)


@router.get("/audits/{audit_id}")
def read_audit(audit_id: AuditId, workspace: WorkspaceDep) -> dict[str, Any]:
    """A finished audit's report (report.json)."""
    return store.read_audit(workspace.settings, audit_id)


@router.get("/audits/{audit_id}/progress")
def read_audit_progress(audit_id: AuditId, workspace: WorkspaceDep) -> dict[str, Any]:
    """A running (or finished) audit's images done, per worker, images/s and ETA."""
    return store.read_progress(workspace.settings, audit_id)


@router.get("/audits/{audit_id}/classes/{class_index}")
def read_class_images(
    audit_id: AuditId,
    class_index: int,
    workspace: WorkspaceDep,
    role: Annotated[str, Query(pattern="^(label|prediction)$")] = "label",
    limit: Annotated[int, Query(ge=1, le=store.MAX_LISTED)] = 60,
    predicted: Annotated[int | None, Query(ge=0)] = None,
) -> dict[str, Any]:
    """The images labelled (or predicted) as one class, or (`predicted`) one confusion's:
    mistakes first, then by confidence."""
    return store.class_images(workspace.settings, audit_id, class_index, role, limit, predicted)


def _preprocessing(workspace: WorkspaceDep, audit_id: str) -> Any:
    model = store.read_audit(workspace.settings, audit_id)["model"]
    return workspace.models.get(model).preprocessing


@router.get("/audits/{audit_id}/images/{index}.png", response_class=Response)
def read_audit_image(audit_id: AuditId, index: int, workspace: WorkspaceDep) -> Response:
    """Image `index` (a report's `index`) as the audit's model saw it."""
    preprocessing = _preprocessing(workspace, audit_id)
    files = store.AuditFiles.on_server(workspace.settings, audit_id)
    pixels, _ = store.image_pixels(workspace.settings, files, index, preprocessing)
    return png_response(Image.fromarray(pixels))


@router.get("/audits/{audit_id}/maps/{method}/{index}.png", response_class=Response)
def read_audit_map(
    audit_id: AuditId, method: str, index: int, workspace: WorkspaceDep, legend: bool = False
) -> Response:
    """The stored map of `method` for image `index` (its predicted class, positive part)."""
    preprocessing = _preprocessing(workspace, audit_id)
    files = store.AuditFiles.on_server(workspace.settings, audit_id)
    picture = store.map_picture(workspace.settings, files, method, index, preprocessing, legend)
    return png_response(picture)


@router.get("/audits/{audit_id}/report.html", response_class=HTMLResponse)
def read_audit_report(audit_id: AuditId, request: Request, workspace: WorkspaceDep) -> HTMLResponse:
    """The audit as one self-contained HTML file (pictures inline), to keep or share."""
    from app.audit.html import audit_report

    model = workspace.models.get(store.read_audit(workspace.settings, audit_id)["model"])
    html, filename = audit_report(
        request.app.state.templates.env,
        workspace.settings,
        store.AuditFiles.on_server(workspace.settings, audit_id),
        model.preprocessing,
        model.weights,
    )
    return HTMLResponse(html, headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@router.get("/audits/{audit_id}/images/{index}/explain", response_class=RedirectResponse)
def explain_audit_image(
    audit_id: AuditId,
    index: int,
    workspace: WorkspaceDep,
    target: Annotated[int | None, Query(alias="class", ge=0)] = None,
) -> RedirectResponse:
    """Open image `index` on the Explain page with the audit's model and `class` selected."""
    report = store.read_audit(workspace.settings, audit_id)
    if target is not None and target >= report["classes"]:
        raise BadParameter(f"class: 0 to {report['classes'] - 1}")
    files = store.AuditFiles.on_server(workspace.settings, audit_id)
    content, name = store.original_image(workspace.settings, files, index)
    stored = workspace.add_upload(content, name)
    query = {"image": stored.id, "model": report["model"]}
    if target is not None:
        query["class"] = str(target)
    explain = next(entry.path for entry in NAV if entry.name == "explain")
    return RedirectResponse(f"{explain}?{urlencode(query)}", status_code=303)
