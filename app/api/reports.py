"""A self-contained HTML report of the current comparison, for sharing and offline demos."""

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app.api.deps import WorkspaceDep
from app.api.schemas import ReportRequest
from app.report import build_report

__all__ = ["router"]

router = APIRouter(tags=["reports"])


@router.post("/reports", response_class=HTMLResponse)
def create_report(body: ReportRequest, request: Request, workspace: WorkspaceDep) -> HTMLResponse:
    """One HTML file: the image, predictions, and each pane with its parameters and timing."""
    html = build_report(
        request.app.state.templates.env,
        workspace,
        body.image_id,
        body.model,
        body.job_ids,
        body.display,
        body.title,
    )
    headers = {"Content-Disposition": 'attachment; filename="lantern-report.html"'}
    return HTMLResponse(html, headers=headers)
