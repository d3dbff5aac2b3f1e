"""The guard in front of every route: security headers, body limit, API token with login and
CSRF, rate limit, CORS, health probes."""

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from fastapi.testclient import TestClient

from app.api.guard import CONTENT_SECURITY_POLICY, csrf_token
from app.main import create_app
from app.resources import resource_folder
from app.settings import Settings
from app.zoo import LoadedModel, load_model
from app.zoo.pool import ModelPool
from tests.api.helpers import png_bytes, upload

TOKEN = "correct-horse-battery-staple"


def _client(settings: Settings, model: LoadedModel) -> TestClient:
    return TestClient(create_app(settings, ModelPool(settings, load_model, preloaded=[model])))


@pytest.fixture
def locked(api_settings: Settings, tiny_model: LoadedModel) -> Iterator[TestClient]:
    settings = Settings(**{**api_settings.model_dump(), "api_token": TOKEN})
    with _client(settings, tiny_model) as client:
        yield client


@pytest.mark.parametrize("path", ["/", "/attack", "/shapley", "/docs", "/api/models"])
def test_security_headers_on_every_response(client, path) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert "access-control-allow-origin" not in response.headers  # CORS is off by default


def test_the_policy_allows_no_inline_script_and_no_page_has_one() -> None:
    script_rule = next(r for r in CONTENT_SECURITY_POLICY.split("; ") if r.startswith("script-src"))
    assert script_rule == "script-src 'self'"
    for template in resource_folder("templates").rglob("*.html"):
        html = template.read_text()
        for tag in re.findall(r"<script\b[^>]*>", html):
            assert "src=" in tag, f"{template.name}: inline <script>"
        assert not re.search(r"\son[a-z]+\s*=", html), f"{template.name}: inline handler"
        assert "javascript:" not in html


def test_a_body_over_the_limit_is_refused_before_it_is_read(client, api_settings) -> None:
    limit = api_settings.max_image_bytes + 64 * 1024
    response = client.post(
        "/api/images",
        content=b"x" * 10,
        headers={"content-length": str(limit + 1), "content-type": "multipart/form-data"},
    )
    assert response.status_code == 413 and "over the limit" in response.json()["detail"]
    big_json = b'{"method": "saliency", "image_id": "' + b"a" * 2_000_000 + b'"}'
    response = client.post(
        "/api/explanations", content=big_json, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413 and "request body" in response.json()["detail"]
    assert client.get("/healthz").status_code == 200


def test_a_streamed_body_stops_being_read_at_the_limit(api_settings, tiny_model) -> None:
    """No Content-Length (chunked): the guard counts while reading and stops at the limit; an
    endless body is refused, not buffered."""
    app = create_app(api_settings, ModelPool(api_settings, load_model, preloaded=[tiny_model]))
    limit = api_settings.max_image_bytes + 64 * 1024
    read = 0
    sent: list[dict] = []

    preamble = (
        b'--x\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n'
        b"Content-Type: image/png\r\n\r\n"
    )

    async def receive():
        nonlocal read
        if read == 0:
            read = len(preamble)
            return {"type": "http.request", "body": preamble, "more_body": True}
        read += 65536
        assert read < 10 * limit, "the server kept reading an endless body"
        return {"type": "http.request", "body": b"\0" * 65536, "more_body": True}

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/images",
        "raw_path": b"/api/images",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"multipart/form-data; boundary=x")],
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
    }
    asyncio.run(app(scope, receive, send))
    assert sent[0]["status"] == 413
    assert b"over the limit" in sent[1]["body"]
    assert limit < read <= limit + 65536 + len(preamble)


def test_health_and_readiness(client) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    client.app.state.workspace.jobs.drain(0)
    not_ready = client.get("/readyz")
    assert not_ready.status_code == 503 and "shutting down" in not_ready.json()["detail"]
    image = upload(client)
    refused = client.post("/api/explanations", json={"image_id": image["id"], "method": "saliency"})
    assert refused.status_code == 503 and "retry-after" in refused.headers


def test_a_token_server_refuses_anonymous_api_calls(locked) -> None:
    response = locked.get("/api/models")
    assert response.status_code == 401 and "API token" in response.json()["detail"]
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert locked.get("/openapi.json").status_code == 401
    assert locked.get("/api/models", headers={"Authorization": "Bearer wrong"}).status_code == 401
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    assert locked.get("/api/models", headers=bearer).status_code == 200
    assert locked.get("/api/models", headers={"X-API-Token": TOKEN}).status_code == 200
    files = {"file": ("a.png", png_bytes())}
    assert locked.post("/api/images", files=files, headers=bearer).status_code == 201
    assert locked.get("/healthz").status_code == 200  # probes stay open
    assert locked.get("/static/js/api.js").status_code == 200


def _sign_in(client: TestClient, token: str, target: str = "/attack"):
    page = client.get(target, follow_redirects=False)
    assert page.status_code == 303
    login = urlparse(page.headers["location"])
    assert login.path == "/login" and parse_qs(login.query)["next"] == [target]
    form = client.get(page.headers["location"])
    assert form.status_code == 200
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
    return client.post(
        "/login",
        data={"token": token, "csrf": csrf, "next": target},
        follow_redirects=False,
    )


def test_login_sets_a_cookie_and_cookie_requests_need_the_csrf_token(locked) -> None:
    wrong = _sign_in(locked, "not-the-token-at-all")
    assert wrong.status_code == 401 and "not this server" in wrong.text
    signed_in = _sign_in(locked, TOKEN)
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/attack"
    cookie = signed_in.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and TOKEN not in cookie
    page = locked.get("/attack")
    assert page.status_code == 200
    assert f'<meta name="csrf-token" content="{csrf_token(TOKEN)}">' in page.text
    assert locked.get("/api/models").status_code == 200  # reads need only the cookie
    files = {"file": ("a.png", png_bytes())}
    refused = locked.post("/api/images", files=files)
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    accepted = locked.post("/api/images", files=files, headers={"X-CSRF-Token": csrf_token(TOKEN)})
    assert accepted.status_code == 201


def test_the_login_form_needs_its_own_csrf_cookie_and_never_redirects_away(locked) -> None:
    forged = locked.post(
        "/login", data={"token": TOKEN, "csrf": "guess", "next": "/"}, follow_redirects=False
    )
    assert forged.status_code == 403 and "expired" in forged.text
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        form = locked.get("/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
        response = locked.post(
            "/login",
            data={"token": TOKEN, "csrf": csrf, "next": target},
            follow_redirects=False,
        )
        assert response.status_code == 303 and response.headers["location"] == "/"


def test_the_rate_limit_answers_429_with_retry_after(api_settings, tiny_model) -> None:
    settings = Settings(**{**api_settings.model_dump(), "rate_limit_per_minute": 40})
    with _client(settings, tiny_model) as client:
        statuses = [client.get("/api/models").status_code for _ in range(12)]
        assert statuses[:10] == [200] * 10 and statuses[-1] == 429
        refused = client.get("/api/models")
        assert int(refused.headers["retry-after"]) >= 1
        assert "too many requests" in refused.json()["detail"]
        assert client.get("/healthz").status_code == 200  # probes are not counted


def test_cors_only_for_configured_origins(api_settings, tiny_model) -> None:
    origin = "https://dashboard.example"
    settings = Settings(**{**api_settings.model_dump(), "cors_origins": [origin]})
    with _client(settings, tiny_model) as client:
        allowed = client.get("/api/models", headers={"Origin": origin})
        assert allowed.headers["access-control-allow-origin"] == origin
        other = client.get("/api/models", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("api_token", "short", "at least 16 characters"),
        ("cors_origins", ["*"], "name the allowed origins"),
    ],
)
def test_unsafe_settings_are_refused_at_start(field, value, words, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=words):
        Settings(data_dir=tmp_path, **{field: value})


def test_the_byte_limit_is_exact(client, api_settings) -> None:
    """A file of exactly the limit is read (and judged as an image); one byte more is 413."""
    limit = api_settings.max_image_bytes
    at_limit = client.post("/api/images", files={"file": ("a.png", b"\0" * limit)})
    assert at_limit.status_code == 415
    over = client.post("/api/images", files={"file": ("a.png", b"\0" * (limit + 1))})
    assert over.status_code == 413 and f"{limit:,} bytes" in over.json()["detail"]
