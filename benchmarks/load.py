"""Load test: concurrent users upload photos and ask for Grad-CAM and occlusion, over HTTP.

    python benchmarks/load.py [--url http://127.0.0.1:8000] [--users 8] [--seconds 60]

Without --url it starts `lantern serve` on a free loopback port (default model, its own temporary
data directory, no rate limit: every user here shares one address) and stops it afterwards.
Each user loops: upload a photo no one sent before (a sample photo, randomly cropped and tinted,
so no result comes from the cache), start Grad-CAM and occlusion on it, and poll both jobs until
they end. A 503 or 429 is counted and the user waits what Retry-After says, as a client should.

Prints requests/s, p50/p99 latency per kind of request, each status code's count, and the jobs'
end-to-end times (start request to a terminal status).
"""

import argparse
import asyncio
import io
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager

import httpx2 as httpx
import numpy as np
from PIL import Image

from app.imaging import SAMPLES, sample_image

METHODS = ("grad_cam", "occlusion")
TERMINAL = {"done", "failed", "cancelled", "timeout"}


class Stats:
    def __init__(self) -> None:
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.statuses: Counter[int] = Counter()
        self.job_seconds: dict[str, list[float]] = defaultdict(list)
        self.job_ends: Counter[str] = Counter()

    def record(self, kind: str, seconds: float, status: int) -> None:
        self.latency[kind].append(seconds)
        self.statuses[status] += 1


async def _request(
    client: httpx.AsyncClient, stats: Stats, kind: str, method: str, url: str, **options: object
) -> httpx.Response:
    while True:
        started = time.perf_counter()
        response = await client.request(method, url, **options)  # type: ignore[arg-type]
        stats.record(kind, time.perf_counter() - started, response.status_code)
        if response.status_code not in (429, 503):
            return response
        await asyncio.sleep(min(5.0, float(response.headers.get("retry-after", "1"))))


def _photo(rng: np.random.Generator) -> bytes:
    picture = sample_image(list(SAMPLES)[int(rng.integers(len(SAMPLES)))])
    width, height = picture.size
    side = int(min(width, height) * rng.uniform(0.6, 1.0))
    left, top = int(rng.integers(0, width - side + 1)), int(rng.integers(0, height - side + 1))
    crop = np.asarray(picture.crop((left, top, left + side, top + side)), dtype=np.float32)
    tinted = np.clip(crop * rng.uniform(0.8, 1.2, size=3), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(tinted).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


async def _user(url: str, seed: int, until: float, stats: Stats) -> None:
    rng = np.random.default_rng(seed)
    async with httpx.AsyncClient(base_url=url, timeout=120) as client:
        while time.monotonic() < until:
            files = {"file": (f"user{seed}.jpg", _photo(rng), "image/jpeg")}
            upload = await _request(client, stats, "upload", "POST", "/api/images", files=files)
            if upload.status_code != 201:
                continue
            image_id = upload.json()["id"]
            started = {}
            for method in METHODS:
                body = {"image_id": image_id, "method": method}
                response = await _request(
                    client, stats, "start job", "POST", "/api/explanations", json=body
                )
                if response.status_code in (200, 201):
                    started[response.json()["id"]] = (method, time.perf_counter())
            while started:
                await asyncio.sleep(0.2)
                for job_id, (method, since) in list(started.items()):
                    view = await _request(client, stats, "poll job", "GET", f"/api/jobs/{job_id}")
                    status = view.json().get("status") if view.status_code == 200 else "lost"
                    if status in TERMINAL or status == "lost":
                        stats.job_seconds[method].append(time.perf_counter() - since)
                        stats.job_ends[f"{method} {status}"] += 1
                        del started[job_id]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def serving(**settings: str) -> Iterator[tuple[str, int]]:
    """(url, pid) of a `lantern serve` on a free loopback port, a temporary data directory and no
    rate limit (every simulated user shares one address), plus `settings` (LANTERN_* variables);
    stopped with SIGTERM afterwards."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="lantern-load-") as data:
        env = {
            **os.environ,
            "LANTERN_DATA_DIR": data,
            "LANTERN_RATE_LIMIT_PER_MINUTE": "0",
            **settings,
        }
        command = [sys.executable, "-m", "app.cli", "serve", "--port", str(port)]
        server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=sys.stderr)
        try:
            deadline = time.monotonic() + 300
            while True:
                try:
                    if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("the server did not start")
                time.sleep(0.3)
            yield url, server.pid
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=120)


@contextmanager
def _local_server() -> Iterator[str]:
    with serving() as (url, _):
        yield url


def _percentiles(values: list[float]) -> str:
    if not values:
        return "-"
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return f"p50 {statistics.median(ordered) * 1000:8.1f} ms   p99 {p99 * 1000:8.1f} ms"


def report(stats: Stats, seconds: float, users: int, url: str) -> None:
    total = sum(stats.statuses.values())
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores; server {url}")
    print(f"{users} users for {seconds:.1f} s: {total} requests, {total / seconds:.1f} requests/s")
    for kind, values in sorted(stats.latency.items()):
        print(f"  {kind:10s} {len(values):6d}   {_percentiles(values)}")
    print("status codes: " + ", ".join(f"{k}: {v}" for k, v in sorted(stats.statuses.items())))
    for method, values in sorted(stats.job_seconds.items()):
        print(f"  {method:10s} job, start to end: {len(values):4d}   {_percentiles(values)}")
    print("jobs ended: " + ", ".join(f"{k}: {v}" for k, v in sorted(stats.job_ends.items())))


async def _run(url: str, users: int, seconds: float) -> Stats:
    stats = Stats()
    until = time.monotonic() + seconds
    await asyncio.gather(*(_user(url, seed, until, stats) for seed in range(users)))
    return stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a running server; default: start one here")
    parser.add_argument("--users", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    with _local_server() if args.url is None else _given(args.url) as url:
        started = time.monotonic()
        stats = asyncio.run(_run(url, args.users, args.seconds))
        report(stats, time.monotonic() - started, args.users, url)


@contextmanager
def _given(url: str) -> Iterator[str]:
    yield url.rstrip("/")


if __name__ == "__main__":
    main()
