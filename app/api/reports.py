"""Self-contained HTML reports, for sharing and offline demos: one template for every page."""

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app.api.deps import WorkspaceDep
from app.api.schemas import ReportRequest
from app.report import PageReport, build_report, render_report

__all__ = ["router"]

router = APIRouter(tags=["reports"])


def _attachment(html: str, filename: str) -> HTMLResponse:
    return HTMLResponse(html, headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@router.post("/reports", response_class=HTMLResponse)
def create_report(body: ReportRequest, request: Request, workspace: WorkspaceDep) -> HTMLResponse:
    """The Explain report from explanation jobs: the image, predictions, each map with its colour
    bar, caption, parameters and the verdicts of its finished checks (`check_ids`); a job still
    running is waited for, then named as running."""
    html, filename = build_report(
        request.app.state.templates.env,
        workspace,
        body.image_id,
        body.model,
        body.job_ids,
        body.display,
        body.title,
        body.check_ids,
    )
    return _attachment(html, filename)


@router.post("/reports/page", response_class=HTMLResponse)
def create_page_report(body: PageReport, request: Request, workspace: WorkspaceDep) -> HTMLResponse:
    """Any page's report from what the page shows (static/js/report.js assembles the sections);
    the server adds the date, the machine, the model's weights and the versions."""
    weights = None
    if body.model is not None:
        weights = workspace.models.get(body.model).weights
    html, filename = render_report(
        request.app.state.templates.env, body, workspace.settings.torch_device(), weights
    )
    return _attachment(html, filename)
