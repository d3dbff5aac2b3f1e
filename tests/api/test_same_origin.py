"""Issue 19, item 3 (M1): a server without a token answers only to its own host names and takes
state-changing requests only from its own pages; it refuses to listen beyond loopback unasked."""

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.errors import BadParameter
from app.main import create_app, serve
from app.settings import Settings, check_public_serving, is_loopback
from app.zoo import LoadedModel, load_model
from app.zoo.pool import ModelPool
from tests.api.helpers import png_bytes, upload

TOKEN = "correct-horse-battery-staple"
EVIL = "https://attacker.example"


def _client(settings: Settings, model: LoadedModel) -> TestClient:
    return TestClient(create_app(settings, ModelPool(settings, load_model, preloaded=[model])))


@pytest.mark.parametrize("host", ["attacker.example", "attacker.example:8000", "10.0.0.7"])
def test_dns_rebinding_is_refused_by_the_host_check(client: TestClient, host: str) -> None:
    response = client.get("/api/models", headers={"Host": host})
    assert response.status_code == 421
    assert "LANTERN_ALLOWED_HOSTS" in response.json()["detail"]
    assert "content-security-policy" in response.headers


@pytest.mark.parametrize("host", ["127.0.0.1:8000", "localhost", "LOCALHOST:80", "[::1]:8000"])
def test_loopback_names_are_served(client: TestClient, host: str) -> None:
    assert client.get("/api/models", headers={"Host": host}).status_code == 200


def test_configured_hosts_and_a_token_server_answer_other_names(
    api_settings: Settings, tiny_model: LoadedModel
) -> None:
    named = Settings(**{**api_settings.model_dump(), "allowed_hosts": ["lantern.lan"]})
    with _client(named, tiny_model) as client:
        assert client.get("/healthz", headers={"Host": "lantern.lan:8000"}).status_code == 200
        assert client.get("/healthz", headers={"Host": "localhost"}).status_code == 421
    locked = Settings(**{**api_settings.model_dump(), "api_token": TOKEN})
    with _client(locked, tiny_model) as client:  # the token stops a rebound page instead
        response = client.get("/api/models", headers={"Host": "attacker.example"})
        assert response.status_code == 401


def test_cross_site_posts_are_refused(client: TestClient) -> None:
    image_id = upload(client)["id"]
    attempts = {
        "multipart upload": lambda h: client.post(
            "/api/images", files={"file": ("a.png", png_bytes(seed=3), "image/png")}, headers=h
        ),
        "body-less lab job": lambda h: client.post("/api/lab/experiments/transfer", headers=h),
        "explanation": lambda h: client.post(
            "/api/explanations", json={"image_id": image_id, "method": "saliency"}, headers=h
        ),
        "cancel": lambda h: client.post("/api/jobs/0123456789abcdef/cancel", headers=h),
    }
    for what, send in attempts.items():
        for headers in (
            {"Origin": EVIL},
            {"Origin": "null"},  # sandboxed frames, file: pages
            {"Origin": "http://testserver.attacker.example"},
            {"Sec-Fetch-Site": "cross-site"},
            {"Sec-Fetch-Site": "same-site"},  # another port or sub-domain
        ):
            response = send(headers)
            assert response.status_code == 403, (what, headers, response.text)
            assert "Origin check" in response.json()["detail"]
            assert "content-security-policy" in response.headers


def test_same_origin_pages_and_non_browser_clients_are_served(client: TestClient) -> None:
    for headers in (
        {"Origin": "http://testserver"},
        {"Sec-Fetch-Site": "same-origin"},
        {"Sec-Fetch-Site": "none"},
        {},  # curl, scripts: no browser, so no other site's page behind them
    ):
        response = client.post(
            "/api/images",
            files={"file": ("a.png", png_bytes(seed=len(headers)), "image/png")},
            headers=headers,
        )
        assert response.status_code == 201, (headers, response.text)
    assert client.get("/api/models", headers={"Origin": EVIL}).status_code == 200  # reads: CORS


def test_configured_cors_origins_may_post(api_settings: Settings, tiny_model: LoadedModel) -> None:
    origin = "https://dashboard.example"
    settings = Settings(**{**api_settings.model_dump(), "cors_origins": [origin]})
    with _client(settings, tiny_model) as client:
        files = {"file": ("a.png", png_bytes(), "image/png")}
        allowed = client.post("/api/images", files=files, headers={"Origin": origin})
        assert allowed.status_code == 201
        refused = client.post("/api/images", files=files, headers={"Origin": EVIL})
        assert refused.status_code == 403


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "lantern.example"])
def test_serving_beyond_loopback_needs_a_token_or_an_explicit_yes(
    api_settings: Settings, host: str
) -> None:
    assert not is_loopback(host)
    with pytest.raises(BadParameter, match="insecure-public"):
        serve(api_settings, host, 0)  # refused before the app or a socket exists
    check_public_serving(Settings(**{**api_settings.model_dump(), "api_token": TOKEN}), host)
    check_public_serving(Settings(**{**api_settings.model_dump(), "insecure_public": True}), host)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"])
def test_loopback_addresses_serve_without_a_token(api_settings: Settings, host: str) -> None:
    assert is_loopback(host)
    check_public_serving(api_settings, host)


@pytest.fixture
def locked(api_settings: Settings, tiny_model: LoadedModel) -> Iterator[TestClient]:
    settings = Settings(**{**api_settings.model_dump(), "api_token": TOKEN})
    with _client(settings, tiny_model) as client:
        yield client


def test_logout_clears_the_session_cookie(locked: TestClient) -> None:
    form = locked.get("/login")
    csrf = form.text.split('name="csrf" value="')[1].split('"')[0]
    signed_in = locked.post(
        "/login", data={"token": TOKEN, "csrf": csrf, "next": "/"}, follow_redirects=False
    )
    assert signed_in.status_code == 303 and "lantern_session" in locked.cookies
    assert locked.get("/api/models").status_code == 200
    out = locked.post("/logout", follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert 'lantern_session=""' in out.headers["set-cookie"]
    assert "lantern_session" not in locked.cookies
    assert locked.get("/api/models").status_code == 401


def test_no_absolute_paths_in_the_model_list(client: TestClient, api_settings: Settings) -> None:
    body = client.get("/api/models").text
    assert str(api_settings.weights_dir) not in body and str(api_settings.data_dir) not in body
    for model in client.get("/api/models").json():
        assert not model["weights"].startswith("/"), model
