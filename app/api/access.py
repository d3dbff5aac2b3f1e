"""The login page for a server with an API token: the token in, a session cookie out.

The form carries a CSRF token that must equal a cookie set with the form (double submit), so
another site cannot sign a browser in under its own token. Only used when LANTERN_API_TOKEN is set.
"""

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.api.deps import WorkspaceDep
from app.api.guard import SESSION_COOKIE, session_value, token_matches

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
_FORM_COOKIE = "lantern_login_csrf"
_SESSION_SECONDS = 12 * 3600


def _safe_next(target: str | None) -> str:
    """Only a path on this server: never another site (//host, https://...)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _form(request: Request, target: str, message: str | None, status: int) -> HTMLResponse:
    nonce = secrets.token_urlsafe(24)
    response: HTMLResponse = request.app.state.templates.TemplateResponse(
        request,
        "login.html",
        {"next": target, "csrf": nonce, "message": message},
        status_code=status,
    )
    secure = request.url.scheme == "https"
    response.set_cookie(
        _FORM_COOKIE, nonce, httponly=True, samesite="strict", secure=secure, path="/login"
    )
    return response


@router.get("/login", response_class=HTMLResponse)
def read_login(request: Request, workspace: WorkspaceDep, next: str | None = None) -> Response:
    if workspace.settings.api_token is None:
        return RedirectResponse(_safe_next(next), status_code=303)
    return _form(request, _safe_next(next), None, 200)


@router.post("/login", response_class=HTMLResponse)
def create_session(
    request: Request,
    workspace: WorkspaceDep,
    token: Annotated[str, Form(max_length=1000)],
    csrf: Annotated[str, Form(max_length=200)],
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    expected = workspace.settings.api_token
    target = _safe_next(next)
    if expected is None:
        return RedirectResponse(target, status_code=303)
    if not token_matches(request.cookies.get(_FORM_COOKIE), csrf):
        return _form(request, target, "The form expired; sign in again.", 403)
    if not token_matches(token, expected.get_secret_value()):
        return _form(request, target, "That is not this server's token.", 401)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        session_value(expected.get_secret_value()),
        max_age=_SESSION_SECONDS,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    response.delete_cookie(_FORM_COOKIE, path="/login")
    return response


@router.post("/logout")
def delete_session(request: Request) -> Response:
    """Sign out: the session cookie is cleared (a public path: it only ever removes access)."""
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(
        SESSION_COOKIE, httponly=True, samesite="strict", secure=request.url.scheme == "https"
    )
    return response
