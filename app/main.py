"""create_app(settings) -> FastAPI: loads the default model once, serves the API and the pages."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from app.api import api_router, pages_router
from app.errors import LanternError, http_headers, http_status
from app.settings import Settings
from app.workspace import Workspace
from app.zoo import load_model
from app.zoo.pool import ModelPool

__all__ = ["ROOT", "create_app"]

ROOT = Path(__file__).resolve().parent.parent  # templates/ and static/ live beside app/
log = logging.getLogger("lantern")


def create_app(settings: Settings, models: ModelPool | None = None) -> FastAPI:
    """The dashboard and its API. `models` defaults to a pool that loads registered models."""
    pool = models or ModelPool(settings, load_model)
    workspace = Workspace.create(settings, pool)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        model = pool.get()  # once, at start-up: the first request does not wait for it
        log.info(
            "model %s ready on %s, forward-only methods on %s (weights: %s)",
            model.name,
            model.device,
            model.engine,
            model.weights,
        )
        yield
        workspace.jobs.shutdown()

    app = FastAPI(
        title="Lantern",
        summary="See what an image classifier looks at, and how it can be fooled.",
        version=_version(),
        lifespan=lifespan,
        docs_url=None,  # served by app.api.pages with local files instead of a CDN
        redoc_url=None,
    )
    app.state.workspace = workspace
    app.state.templates = Jinja2Templates(directory=ROOT / "templates")
    app.add_exception_handler(LanternError, _lantern_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.include_router(api_router)
    app.include_router(pages_router)
    app.mount("/static", StaticFiles(directory=ROOT / "static"), name="static")
    return app


async def _lantern_error(request: Request, error: LanternError) -> JSONResponse:
    return JSONResponse(
        {"detail": str(error)}, status_code=http_status(error), headers=http_headers(error)
    )


async def _validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
    """One readable line: which field, what is wrong."""
    problems = []
    for issue in error.errors():
        where = ".".join(str(part) for part in issue["loc"] if part not in ("body", "query"))
        problems.append(f"{where or 'request'}: {issue['msg']}")
    return JSONResponse({"detail": "; ".join(problems)}, status_code=422)


def _version() -> str:
    from app.report import versions

    return versions()["lantern"]
