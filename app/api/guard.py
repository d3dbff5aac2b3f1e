"""What stands in front of every route: security headers, a per-client rate limit, the optional
API token (with its login cookie and CSRF token), same-origin checks without one, and a body-size
limit enforced while reading.

Plain ASGI middleware, so a refused request is answered before any route, form parser or
upload buffer sees it. The token is compared in constant time (`hmac.compare_digest`).
"""

import hashlib
import hmac
import json
import math
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import quote, urlsplit

from app.errors import (
    CrossOrigin,
    LanternError,
    NotSignedIn,
    RateLimited,
    RequestTooLarge,
    StaleForm,
    UnknownHost,
)
from app.jobs.queue import JOB_CLIENT
from app.settings import Settings

__all__ = [
    "SESSION_COOKIE",
    "AccessGuard",
    "BodyLimit",
    "JobClient",
    "RateLimit",
    "SameOrigin",
    "SecurityHeaders",
    "csrf_token",
    "session_value",
    "token_matches",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SESSION_COOKIE = "lantern_session"
_PUBLIC_PATHS = {"/login", "/logout", "/healthz", "/readyz"}  # and everything under /static/
_UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
_MULTIPART_OVERHEAD = 64 * 1024  # form boundaries and headers around an uploaded file

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",  # no inline script, no eval: every page passes this
        "style-src 'self' 'unsafe-inline'",  # Plotly sets style attributes on its charts
        "img-src 'self' data: blob:",
        "connect-src 'self'",
        "font-src 'self' data:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
_SECURITY_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


def _derive(token: str, purpose: str) -> str:
    return hmac.new(token.encode(), purpose.encode(), hashlib.sha256).hexdigest()


def session_value(token: str) -> str:
    """The login cookie's value: derived from the token, so changing the token signs all out."""
    return _derive(token, "session")


def csrf_token(token: str) -> str:
    """What a signed-in page sends in X-CSRF-Token with every request that changes state."""
    return _derive(token, "csrf")


def token_matches(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


async def _refuse(send: Send, error: LanternError, headers: dict[str, str] | None = None) -> None:
    from app.errors import http_headers

    body = json.dumps({"detail": str(error)}).encode()
    extra = {**http_headers(error), **(headers or {})}
    await send(
        {
            "type": "http.response.start",
            "status": error.status_code,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *[(k.lower().encode(), v.encode()) for k, v in extra.items()],
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _cookies(scope: Scope) -> dict[str, str]:
    cookies: dict[str, str] = {}
    for part in (_header(scope, b"cookie") or "").split(";"):
        name, _, value = part.strip().partition("=")
        if name:
            cookies[name] = value
    return cookies


class SecurityHeaders:
    """CSP, nosniff, frame and referrer protection on every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {key.lower() for key, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in _SECURITY_HEADERS if k not in present]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)


class JobClient:
    """Name the client (its address) for the job queue's fair share (JOB_CLIENT)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        token = JOB_CLIENT.set(str((scope.get("client") or ("unknown", 0))[0]))
        try:
            await self.app(scope, receive, send)
        finally:
            JOB_CLIENT.reset(token)


class RateLimit:
    """A token bucket per client address: `per_minute` requests a minute, bursts of a quarter
    of that; health probes and static files are not counted."""

    def __init__(self, app: ASGIApp, per_minute: int) -> None:
        self.app = app
        self.capacity = max(10.0, per_minute / 4)
        self.refill = per_minute / 60.0
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        uncounted = path in ("/healthz", "/readyz") or path.startswith("/static/")
        if scope["type"] != "http" or uncounted:
            await self.app(scope, receive, send)
            return
        client = (scope.get("client") or ("unknown", 0))[0]
        wait = self._take(client)
        if wait > 0:
            seconds = max(1, math.ceil(wait))
            error = RateLimited(
                f"too many requests from {client}; try again in {seconds} s", seconds
            )
            await _refuse(send, error)
            return
        await self.app(scope, receive, send)

    def _take(self, client: str) -> float:
        """0 when a request may go ahead, else the seconds until it may."""
        now = time.monotonic()
        with self._lock:
            tokens, then = self._buckets.get(client, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - then) * self.refill)
            if len(self._buckets) > 10_000:  # forget idle clients (their buckets are full)
                self._buckets = {
                    key: value
                    for key, value in self._buckets.items()
                    if value[0] + (now - value[1]) * self.refill < self.capacity
                }
            if tokens < 1.0:
                self._buckets[client] = (tokens, now)
                return (1.0 - tokens) / self.refill
            self._buckets[client] = (tokens - 1.0, now)
            return 0.0


def host_name(host: str) -> str:
    """'Example.com:8000' -> 'example.com', '[::1]:8000' -> '[::1]'."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[: host.find("]") + 1] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class SameOrigin:
    """For a server without a token, which trusts whoever can reach it: answer only to the
    configured host names (a page on attacker.example that rebinds its DNS name to 127.0.0.1
    sends `Host: attacker.example`: 421), and take state-changing requests from a browser only
    when they come from this server's own pages (`Origin` equal to the Host, or one of the
    CORS origins; else `Sec-Fetch-Site: same-origin`/`none`: 403). Browsers send one of the
    two on every cross-site POST; clients that send neither (curl, scripts) are not browsers
    driven by another site, and stay allowed."""

    def __init__(self, app: ASGIApp, hosts: list[str], origins: list[str]) -> None:
        self.app = app
        self.hosts = {host_name(host) for host in hosts}
        self.origins = {origin.rstrip("/").lower() for origin in origins}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        host = _header(scope, b"host")
        if host is not None and "*" not in self.hosts and host_name(host) not in self.hosts:
            names = ", ".join(sorted(self.hosts))
            message = (
                f"this server answers to {names}, not {host_name(host)[:100]!r}; "
                "add the name to LANTERN_ALLOWED_HOSTS or set LANTERN_API_TOKEN"
            )
            await _refuse(send, UnknownHost(message))
            return
        if scope.get("method") in _UNSAFE_METHODS and not self._same_origin(scope, host):
            message = "another site's page may not change this server's state (Origin check)"
            await _refuse(send, CrossOrigin(message))
            return
        await self.app(scope, receive, send)

    def _same_origin(self, scope: Scope, host: str | None) -> bool:
        origin = _header(scope, b"origin")
        if origin is not None:
            origin = origin.strip().rstrip("/").lower()
            if origin in self.origins:
                return True
            parts = urlsplit(origin)
            return (
                host is not None
                and parts.scheme in ("http", "https")
                and (parts.netloc == host.strip().lower())
            )
        site = _header(scope, b"sec-fetch-site")
        return site is None or site.strip().lower() in ("same-origin", "none")


class AccessGuard:
    """With an API token set: API routes need `Authorization: Bearer TOKEN` (or X-API-Token)
    or the login cookie, plus X-CSRF-Token on state-changing requests signed in by cookie;
    pages without the cookie redirect to /login."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token
        self.session = session_value(token)
        self.csrf = csrf_token(token)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path in _PUBLIC_PATHS or path.startswith("/static/"):
            await self.app(scope, receive, send)
            return
        bearer = (_header(scope, b"authorization") or "").removeprefix("Bearer ").strip()
        if token_matches(bearer, self.token) or token_matches(
            _header(scope, b"x-api-token"), self.token
        ):
            await self.app(scope, receive, send)
            return
        if token_matches(_cookies(scope).get(SESSION_COOKIE), self.session):
            if scope["method"] in _UNSAFE_METHODS and not token_matches(
                _header(scope, b"x-csrf-token"), self.csrf
            ):
                await _refuse(send, StaleForm("the request lacks the page's CSRF token: reload"))
                return
            await self.app(scope, receive, send)
            return
        if path.startswith("/api/") or path == "/openapi.json" or scope["method"] != "GET":
            message = "this server needs its API token: send 'Authorization: Bearer TOKEN'"
            await _refuse(send, NotSignedIn(message))
            return
        target = path + (("?" + scope["query_string"].decode()) if scope["query_string"] else "")
        location = "/login?next=" + quote(target, safe="")
        await send(
            {
                "type": "http.response.start",
                "status": 303,
                "headers": [(b"location", location.encode()), (b"content-length", b"0")],
            }
        )
        await send({"type": "http.response.body", "body": b""})


class BodyLimit:
    """Refuse a body over the limit with 413: at once from Content-Length, else as soon as the
    bytes read pass it, without reading (or buffering) the rest."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.limits = {
            "/api/images": settings.max_image_bytes + _MULTIPART_OVERHEAD,
            "/api/compress/datasets": settings.max_dataset_bytes + _MULTIPART_OVERHEAD,
            "/api/models": settings.max_weights_bytes + 2 * _MULTIPART_OVERHEAD,  # + labels
            # a page's report carries its pictures as data URLs
            "/api/reports/page": settings.max_image_bytes,
        }
        self.request_limit = settings.max_request_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _UNSAFE_METHODS:
            await self.app(scope, receive, send)
            return
        upload = self.limits.get(scope.get("path", ""))
        limit = upload or self.request_limit
        what = "upload" if upload else "request body"
        error = RequestTooLarge(f"the {what} is over the limit of {limit:,} bytes")
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _refuse(send, error, {"Connection": "close"})
            return
        seen = 0
        over = False
        started = False

        async def counting_receive() -> Message:
            nonlocal seen, over
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    over = True
                    raise error
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if over:
                return  # the app's own answer to the cut-off body is replaced by the 413
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not over:
                raise
        if over and not started:
            await _refuse(send, error, {"Connection": "close"})
