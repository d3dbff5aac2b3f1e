"""Dataset audits (app/audit/) as jobs: start one; its report is the job's result."""

from typing import Annotated, Any

from fastapi import APIRouter, Body
from fastapi.responses import JSONResponse

from app.api.deps import WorkspaceDep
from app.api.jobs import started_response
from app.audit.job import AuditRequest, start_audit

__all__ = ["router"]

router = APIRouter(tags=["audit"])


@router.post("/audits", status_code=201)
def create_audit(
    workspace: WorkspaceDep,
    body: Annotated[dict[str, Any], Body(description=AuditRequest.__doc__ or "")],
) -> JSONResponse:
    """Audit Shapes data or an uploaded zip: accuracy, calibration, label issues, shortcuts."""
    return started_response(
        start_audit(workspace.settings, workspace.jobs, workspace.models, body), workspace
    )
