"""Probes for orchestrators: /healthz (the process answers) and /readyz (it takes work)."""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app.api.deps import WorkspaceDep

__all__ = ["router"]

router = APIRouter(tags=["health"])


@router.get("/healthz")
def read_health() -> dict[str, str]:
    """200 while the process serves requests."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "Starting or shutting down"}})
def read_readiness(request: Request, workspace: WorkspaceDep) -> JSONResponse:
    """200 when the default model is loaded and jobs are taken; 503 while starting or draining."""
    if not getattr(request.app.state, "ready", False):
        return JSONResponse({"detail": "the default model is still loading"}, status_code=503)
    if not workspace.jobs.accepting:
        return JSONResponse({"detail": "the server is shutting down"}, status_code=503)
    return JSONResponse({"status": "ready", "active_jobs": workspace.jobs.active()})
