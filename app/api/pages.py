"""The HTML pages. Each is a template plus one ES module in static/js; data comes from /api."""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse

from app.api.deps import WorkspaceDep
from app.api.guard import csrf_token
from app.errors import UnknownAsset
from app.explain.exact_shapley import (
    LECTURE_GAME,
    LECTURE_PLAYERS,
    marginal_contributions,
    shapley_values,
)
from app.explain.kernel_shap import KernelShap
from app.shapes import SIZE

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
_SWAGGER = "/static/vendor/swagger"
_SWAGGER_FILES = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "favicon.png": "image/png",
}


@dataclass(frozen=True)
class NavEntry:
    name: str  # also the page's template folder and its static/js module
    path: str
    title: str


NAV: list[NavEntry] = []
"""The pages in the navigation bar, in order: `@page` adds one."""

PageHandler = Callable[..., HTMLResponse]


def page(path: str, name: str, title: str) -> Callable[[PageHandler], PageHandler]:
    """Serve a page at `path` and list it in the navigation bar (a new page: one decorator, its
    template `templates/NAME/index.html` and its module `static/js/NAME.js`)."""
    if any(entry.name == name for entry in NAV):
        raise ValueError(f"page {name!r} is registered twice")
    NAV.append(NavEntry(name, path, title))
    return router.get(path, response_class=HTMLResponse)


def _page(
    request: Request, workspace: WorkspaceDep, name: str, template: str = "", **context: object
) -> HTMLResponse:
    """The page `name` (templates/NAME/index.html unless `template` says otherwise)."""
    token = workspace.settings.api_token
    csrf = None if token is None else csrf_token(token.get_secret_value())
    response: HTMLResponse = request.app.state.templates.TemplateResponse(
        request,
        template or f"{name}/index.html",
        {
            "default_model": workspace.settings.default_model,
            "csrf_token": csrf,
            "nav": NAV,
            "page": name,
            **context,
        },
    )
    return response


def plain_page(path: str, name: str, title: str) -> None:
    """A page whose template needs nothing from the server but the common context."""

    def show(request: Request, workspace: WorkspaceDep) -> HTMLResponse:
        return _page(request, workspace, name)

    show.__name__ = f"{name}_page"
    page(path, name, title)(show)


plain_page("/", "explain", "Explain")
plain_page("/attack", "attack", "Attack")


@page("/shapley", "shapley", "Shapley values")
def shapley_page(request: Request, workspace: WorkspaceDep) -> HTMLResponse:
    coalitions = [
        (" + ".join(p for p in LECTURE_PLAYERS if p in coalition), worth)
        for coalition, worth in LECTURE_GAME.items()
    ]
    orderings = marginal_contributions(LECTURE_PLAYERS, LECTURE_GAME)
    return _page(
        request,
        workspace,
        "shapley",
        method=KernelShap.name,  # the map of the image: Shapley values of its superpixels
        players=LECTURE_PLAYERS,
        coalitions=coalitions,
        orderings=orderings,
        values=shapley_values(LECTURE_PLAYERS, LECTURE_GAME),
        grand_total=LECTURE_GAME[frozenset(LECTURE_PLAYERS)],
    )


@page("/lab", "lab", "Shapes lab")
def lab_page(request: Request, workspace: WorkspaceDep) -> HTMLResponse:
    return _page(request, workspace, "lab", size=SIZE)


plain_page("/compress", "compress", "Compress")
plain_page("/audit", "audit", "Audit")
plain_page("/concepts", "concepts", "Concepts")
plain_page("/models", "models", "Models")


@router.get("/concepts/{model:path}/{layer}/{channel:int}", response_class=HTMLResponse)
def concept_channel_page(
    request: Request, workspace: WorkspaceDep, model: str, layer: str, channel: int
) -> HTMLResponse:
    """A channel's stable, linkable page. The model name may hold '/' (shapes/teacher): the
    path's last two parts are the layer (no '/' in layer names) and the channel."""
    return _page(
        request,
        workspace,
        "concepts",
        "concepts/channel.html",
        model=model,
        layer=layer,
        channel=channel,
    )


@router.get("/docs", response_class=HTMLResponse)
def read_api_docs(request: Request, workspace: WorkspaceDep) -> HTMLResponse:
    """Swagger UI for /openapi.json, with its files served from here (no CDN, no inline script)."""
    return _page(
        request,
        workspace,
        "docs",
        "docs.html",
        openapi_url=request.app.openapi_url,
        swagger=_SWAGGER,
    )


@router.get("/static/vendor/plotly.min.js")
def read_plotly() -> FileResponse:
    """Plotly.js from the `plotly` package: the pages need no CDN."""
    import plotly

    bundled = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    return FileResponse(bundled, media_type="text/javascript")


@router.get(_SWAGGER + "/{name}")
def read_swagger_asset(name: str) -> FileResponse:
    """Swagger UI's files, bundled in the `fastapi-offline` package."""
    import fastapi_offline

    if name not in _SWAGGER_FILES:
        raise UnknownAsset(f"no such file: {name}")
    folder = Path(fastapi_offline.__file__).parent / "static"
    return FileResponse(folder / name, media_type=_SWAGGER_FILES[name])
