"""create_app(settings) -> FastAPI: loads the default model once, serves the API and the pages."""

import functools
import logging
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import FrameType

import uvicorn
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from app.api import api_router, pages_router
from app.api.guard import (
    AccessGuard,
    BodyLimit,
    JobClient,
    RateLimit,
    SameOrigin,
    SecurityHeaders,
)
from app.errors import LanternError, http_headers, http_status
from app.resources import resource_folder
from app.settings import Settings, check_public_serving
from app.workspace import Workspace
from app.zoo import load_model
from app.zoo.pool import ModelPool

__all__ = ["create_app", "serve"]

log = logging.getLogger("lantern")


def create_app(settings: Settings, models: ModelPool | None = None) -> FastAPI:
    """The dashboard and its API. `models` defaults to a pool that loads registered models."""
    # A server prepares each model's engines as it loads it, so no request waits for them.
    pool = models or ModelPool(settings, functools.partial(load_model, prepare=True))
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
        app.state.ready = True
        yield
        app.state.ready = False
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
    app.state.ready = False
    app.state.templates = Jinja2Templates(directory=resource_folder("templates"))
    app.add_exception_handler(LanternError, _lantern_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.include_router(api_router)
    app.include_router(pages_router)
    app.mount("/static", StaticFiles(directory=resource_folder("static")), name="static")
    _guard(app, settings)
    return app


def _guard(app: FastAPI, settings: Settings) -> None:
    """Middleware, innermost first: body limit, token (or same-origin checks without one), rate
    limit, CORS, security headers."""
    app.add_middleware(JobClient)  # who submits a job: the queue's fair share
    app.add_middleware(BodyLimit, settings=settings)
    if settings.api_token is not None:
        app.add_middleware(AccessGuard, token=settings.api_token.get_secret_value())
    else:
        app.add_middleware(SameOrigin, hosts=settings.allowed_hosts, origins=settings.cors_origins)
    if settings.rate_limit_per_minute:
        app.add_middleware(RateLimit, per_minute=settings.rate_limit_per_minute)
    if settings.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", "X-API-Token"],
        )
    app.add_middleware(SecurityHeaders)


def serve(settings: Settings, host: str, port: int) -> None:
    """Run the dashboard under uvicorn until SIGTERM or SIGINT, then shut down gracefully.
    Refuses a non-loopback `host` without a token unless `settings.insecure_public`."""
    check_public_serving(settings, host)
    app = create_app(settings)
    config = uvicorn.Config(
        app, host=host, port=port, log_level="info", timeout_graceful_shutdown=5
    )
    _GracefulServer(config, app.state.workspace, settings.shutdown_grace_seconds).run()


class _GracefulServer(uvicorn.Server):
    """On the first SIGTERM/SIGINT: /readyz answers 503 and new jobs are refused at once, while
    the listener stays open; running jobs get `grace` seconds to finish, the rest are failed;
    then uvicorn closes the listener and stops. A second signal stops at once."""

    _READINESS_SECONDS = 1.0  # at least this long with /readyz at 503 before the listener closes

    def __init__(self, config: uvicorn.Config, workspace: Workspace, grace: float) -> None:
        super().__init__(config)
        self.workspace = workspace
        self.grace = grace
        self.draining = False

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self.draining:
            super().handle_exit(sig, frame)
            return
        self.draining = True
        log.info("signal %d: draining (up to %g s for running jobs)", sig, self.grace)
        threading.Thread(target=self._drain, args=(sig, frame), daemon=True).start()

    def _drain(self, sig: int, frame: FrameType | None) -> None:
        began = time.monotonic()
        finished, stopped = self.workspace.jobs.drain(self.grace)
        time.sleep(max(0.0, self._READINESS_SECONDS - (time.monotonic() - began)))
        log.info("drained: %d jobs finished, %d stopped as failed", finished, stopped)
        super().handle_exit(sig, frame)


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
