"""POST /api/audits: an audit as a job whose result is the report; bad requests are 4xx."""

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from tests.api.helpers import wait_job
from tests.audit.conftest import MODEL


@pytest.fixture(scope="module")
def client(audit_settings: Settings) -> TestClient:
    with TestClient(create_app(audit_settings)) as test_client:
        yield test_client  # type: ignore[misc]


def test_audit_job_gives_the_report(client: TestClient, audit_settings: Settings) -> None:
    body = {"shapes": "10", "model": MODEL, "engine": "plain", "methods": ["grad_cam"]}
    response = client.post("/api/audits", json=body)
    assert response.status_code == 201, response.text
    view = wait_job(client, response.json()["id"], timeout=240)
    assert view["status"] == "done", view["error"]
    assert view["kind"] == "audit"
    report = view["result"]
    assert report["images"] == 10 and report["labelled"]
    assert (audit_settings.data_dir / "audits" / report["audit_id"] / "report.json").is_file()
    again = client.post("/api/audits", json=body)
    assert again.status_code == 200 and again.json()["id"] == response.json()["id"]


@pytest.mark.slow
def test_audit_job_on_ray_from_a_job_thread(client: TestClient) -> None:
    body = {"shapes": "8", "model": MODEL, "engine": "ray", "methods": ["saliency"]}
    response = client.post("/api/audits", json=body)
    assert response.status_code == 201, response.text
    view = wait_job(client, response.json()["id"], timeout=300)
    assert view["status"] == "done", view["error"]
    assert view["result"]["provenance"]["engine"] == "ray data"


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"model": MODEL}, 422, "either shapes"),
        ({"shapes": "10", "dataset": "abc", "model": MODEL}, 422, "either shapes"),
        ({"shapes": "10", "methods": ["telepathy"]}, 404, "telepathy"),
        ({"dataset": "0123456789abcdef"}, 404, "upload a zip first"),
        ({"shapes": "10", "path": "/etc"}, 422, "path"),
    ],
)
def test_bad_requests(client: TestClient, body: dict, status: int, message: str) -> None:
    response = client.post("/api/audits", json=body)
    assert response.status_code == status, response.text
    assert message in response.text


def test_audit_page_renders_with_its_module(client: TestClient) -> None:
    response = client.get("/audit")
    assert response.status_code == 200
    assert 'src="/static/js/audit.js"' in response.text and 'href="/audit"' in response.text
    assert client.get("/static/js/audit.js").status_code == 200


def test_a_configured_cluster_that_does_not_answer_is_422(audit_settings: Settings) -> None:
    settings = audit_settings.model_copy(update={"ray_address": "127.0.0.1:9"})
    with TestClient(create_app(settings)) as other:
        response = other.post("/api/audits", json={"shapes": "4", "model": MODEL})
    assert response.status_code == 422, response.text
    assert "does not answer" in response.json()["detail"]
