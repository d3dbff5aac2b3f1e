"""`lantern serve` as a process: killed with jobs in flight, or stopped by SIGTERM, it comes
back with every job in a terminal state and its finished results still served."""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest

pytestmark = pytest.mark.slow  # each starts real servers on the default model: 20-40 s

SLOW = {"method": "occlusion", "params": {"window": 8, "stride": 2, "batch_size": 8}}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Server:
    def __init__(self, data_dir: Path, **env: str) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = data_dir / f"server-{self.port}.log"
        environment = {
            **os.environ,
            "LANTERN_DATA_DIR": str(data_dir),
            "LANTERN_DEVICE": "cpu",
            "LANTERN_FAST_FORWARD": "false",  # start faster; the engine does not matter here
            **env,
        }
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "app.cli", "serve", "--port", str(self.port)],
                env=environment,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.http = httpx.Client(base_url=self.url, timeout=30)
        deadline = time.monotonic() + 180
        while not self._ready():
            assert self.process.poll() is None, self.log.read_text()
            assert time.monotonic() < deadline, "the server did not become ready"
            time.sleep(0.2)

    def _ready(self) -> bool:
        try:
            return self.http.get("/readyz").status_code == 200
        except httpx.TransportError:
            return False

    def job(self, body: dict, image_id: str) -> dict:
        response = self.http.post("/api/explanations", json={"image_id": image_id, **body})
        assert response.status_code in (200, 201), response.text
        return response.json()

    def wait(self, job_id: str, until: tuple[str, ...], timeout: float = 120) -> dict:
        deadline = time.monotonic() + timeout
        while (view := self.http.get(f"/api/jobs/{job_id}").json())["status"] not in until:
            assert time.monotonic() < deadline, view
            time.sleep(0.1)
        return view

    def stop(self, sig: int = signal.SIGTERM) -> int:
        self.process.send_signal(sig)
        code = self.process.wait(timeout=60)
        self.http.close()
        return code

    def stopped_cleanly(self, code: int) -> bool:
        """uvicorn re-raises the signal once shut down, so the status says what stopped it."""
        log = self.log.read_text()
        return code == -signal.SIGTERM and "drained" in log and "shutdown complete" in log


@pytest.fixture
def servers(tmp_path) -> Iterator[list[Server]]:
    started: list[Server] = []
    yield started
    for server in started:
        if server.process.poll() is None:
            server.process.kill()
            server.process.wait()


def test_a_killed_server_comes_back_with_every_job_terminal(tmp_path, servers) -> None:
    first = Server(tmp_path, LANTERN_JOB_WORKERS="1")
    servers.append(first)
    image = first.http.post("/api/images/samples/chelsea").json()["id"]
    done = first.job({"method": "saliency"}, image)
    first.wait(done["id"], ("done",))
    overlay = first.http.get(f"/api/jobs/{done['id']}/overlay.png").content
    running = first.job(SLOW, image)
    first.wait(running["id"], ("running",))
    waiting = first.job({**SLOW, "params": {**SLOW["params"], "window": 9}}, image)
    assert first.http.get(f"/api/jobs/{waiting['id']}").json()["status"] == "queued"
    first.stop(signal.SIGKILL)  # no drain, no goodbye

    second = Server(tmp_path, LANTERN_JOB_WORKERS="1")
    servers.append(second)
    restored = second.http.get(f"/api/jobs/{done['id']}").json()
    assert restored["status"] == "done" and restored["result"]["target"] == 285
    assert second.http.get(f"/api/jobs/{done['id']}/overlay.png").content == overlay
    for cut_off in (running, waiting):
        view = second.http.get(f"/api/jobs/{cut_off['id']}").json()
        assert view["status"] == "failed" and "server stopped" in view["error"]
    again = second.http.post("/api/explanations", json={"image_id": image, "method": "saliency"})
    assert again.status_code == 200 and again.json()["id"] == done["id"]  # still cached
    assert second.stopped_cleanly(second.stop())


def test_sigterm_drains_then_stops(tmp_path, servers) -> None:
    server = Server(tmp_path, LANTERN_JOB_WORKERS="2", LANTERN_SHUTDOWN_GRACE_SECONDS="8")
    servers.append(server)
    image = server.http.post("/api/images/samples/chelsea").json()["id"]
    slow = server.job(SLOW, image)
    server.wait(slow["id"], ("running",))
    quick = server.job({"method": "integrated_gradients", "params": {"steps": 8}}, image)
    server.process.send_signal(signal.SIGTERM)
    # The listener stays open while draining: readiness says 503, new work is refused.
    deadline = time.monotonic() + 10
    while (ready := server.http.get("/readyz")).status_code == 200:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert ready.status_code == 503 and "shutting down" in ready.json()["detail"]
    refused = server.http.post("/api/explanations", json={"image_id": image, "method": "grad_cam"})
    assert refused.status_code == 503 and "retry-after" in refused.headers
    assert server.http.get("/healthz").status_code == 200
    server.http.close()
    assert server.stopped_cleanly(server.process.wait(timeout=60))
    # The quick job ends within the grace (before or after the signal); the slow one cannot.
    assert "1 stopped as failed" in server.log.read_text()

    again = Server(tmp_path, LANTERN_JOB_WORKERS="2")
    servers.append(again)
    assert again.http.get(f"/api/jobs/{quick['id']}").json()["status"] == "done"
    stopped = again.http.get(f"/api/jobs/{slow['id']}").json()
    assert (
        stopped["status"] == "failed" and "shut down before this job finished" in stopped["error"]
    )
    assert again.stopped_cleanly(again.stop())
