"""Issue 19, item 4: nothing lost under faults. `lantern serve` is killed with SIGKILL while an
explanation, a compression run and a lab job are running; after a restart every finished
result is served, every interrupted job is marked failed and runs again when asked, and the
database passes SQLite's integrity check. Small sizes, so CI can run it (marked slow)."""

import signal
import sqlite3
from typing import Any

import pytest

from tests.test_serve import SLOW, Server, servers  # noqa: F401 (servers is a fixture)

pytestmark = pytest.mark.slow  # two real servers on the default model: about a minute

QUICK_RUN = {
    "variants": [{"recipe": "half_precision"}],
    "methods": ["saliency"],
    "drift_images": 1,
    "augmentations": 0,
    "calibration_augmentations": 1,
    "latency_repeats": 3,
}
SLOW_RUN = {**QUICK_RUN, "augmentations": 20, "calibration_augmentations": 20, "drift_images": 4}
QUICK_LAB = {"modes": ["head"], "train_images": 10, "test_images": 10, "head_epochs": 1}
SLOW_LAB = {"modes": ["head", "scratch"], "train_images": 2000, "test_images": 500, "epochs": 20}


def _post(server: Server, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = server.http.post(path, json=body)
    assert response.status_code in (200, 201), response.text
    result: dict[str, Any] = response.json()
    return result


def _starts(server: Server, image: str) -> dict[str, tuple[str, dict[str, Any]]]:
    """What each kind's slow job is: (path, body)."""
    return {
        "explanation": ("/api/explanations", {"image_id": image, **SLOW}),
        "compression": ("/api/compress/runs", {"params": SLOW_RUN}),
        "lab": ("/api/lab/experiments/transfer", SLOW_LAB),
    }


def test_a_killed_server_loses_nothing(tmp_path, servers) -> None:  # noqa: F811
    first = Server(tmp_path, LANTERN_JOB_WORKERS="3")
    servers.append(first)
    image = first.http.post("/api/images/samples/chelsea").json()["id"]
    finished = {
        "explanation": _post(first, "/api/explanations", {"image_id": image, "method": "saliency"}),
        "compression": _post(first, "/api/compress/runs", {"params": QUICK_RUN}),
        "lab": _post(first, "/api/lab/experiments/transfer", QUICK_LAB),
    }
    results = {}
    for kind, job in finished.items():
        view = first.wait(job["id"], ("done", "failed"), timeout=300)
        assert view["status"] == "done" and view["result"], (kind, view)
        results[kind] = view["result"]
    starts = _starts(first, image)
    running = {kind: _post(first, path, body) for kind, (path, body) in starts.items()}
    for kind, job in running.items():
        assert first.wait(job["id"], ("running",), timeout=120)["status"] == "running", kind
    first.stop(signal.SIGKILL)  # no drain, no goodbye

    database = tmp_path / "lantern.sqlite3"
    with sqlite3.connect(database) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)

    second = Server(tmp_path, LANTERN_JOB_WORKERS="3")
    servers.append(second)
    for kind, job in finished.items():
        view = second.http.get(f"/api/jobs/{job['id']}").json()
        assert view["status"] == "done" and view["result"] == results[kind], kind
    for kind, (path, body) in _starts(second, image).items():
        view = second.http.get(f"/api/jobs/{running[kind]['id']}").json()
        assert view["status"] == "failed" and "server stopped" in view["error"], (kind, view)
        again = _post(second, path, body)  # re-runnable: a new job, not the failed one
        assert again["id"] != running[kind]["id"] and again["status"] in ("queued", "running")
        second.http.post(f"/api/jobs/{again['id']}/cancel")
    assert second.stopped_cleanly(second.stop())
    with sqlite3.connect(database) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
