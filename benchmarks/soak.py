"""Soak test (issue 19): twice as many users as the server has job places, for ten minutes.

    python benchmarks/soak.py [--minutes 10] [--workers 2] [--queued 4] [--sample 10]

Starts `lantern serve` on a free loopback port (default model, a temporary data directory, no
rate limit: every user shares one address) with `--workers` job workers and `--queued` waiting
places, then runs 2 × (workers + queued) users. Each user loops: upload a photo no one sent
before, start Grad-CAM or a small occlusion on it, poll the job to its end. A 503 or 429 is
counted (with how fast it came) and the user waits its Retry-After, as a client should.

Checks what the issue asks and prints the figures: every response is 2xx, or a 503/429 answered
fast (p99 printed); the server's resident memory every `--sample` seconds (the curve); every
accepted job ends (none lost: a job that 404s or never ends is lost). Not run in CI.
"""

import argparse
import asyncio
import sys
import time
from collections import Counter
from pathlib import Path

import httpx2 as httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from load import _percentiles, _photo, serving

TERMINAL = {"done", "failed", "cancelled", "timeout"}
JOBS = (
    {"method": "grad_cam"},
    {"method": "occlusion", "params": {"window": 32, "stride": 16}},
)


class Soak:
    def __init__(self) -> None:
        self.statuses: Counter[int] = Counter()
        self.refusal_seconds: list[float] = []
        self.other_seconds: list[float] = []
        self.accepted: dict[str, str] = {}  # job id -> its end ("" while running)
        self.rss: list[tuple[float, int]] = []

    async def request(
        self, client: httpx.AsyncClient, method: str, url: str, **options: object
    ) -> httpx.Response:
        while True:
            started = time.perf_counter()
            response = await client.request(method, url, **options)  # type: ignore[arg-type]
            took = time.perf_counter() - started
            self.statuses[response.status_code] += 1
            if response.status_code not in (429, 503):
                self.other_seconds.append(took)
                return response
            self.refusal_seconds.append(took)
            await asyncio.sleep(min(5.0, float(response.headers.get("retry-after", "1"))))


async def _user(url: str, seed: int, until: float, soak: Soak) -> None:
    rng = np.random.default_rng(seed)
    async with httpx.AsyncClient(base_url=url, timeout=120) as client:
        turn = 0
        while time.monotonic() < until:
            files = {"file": (f"user{seed}.jpg", _photo(rng), "image/jpeg")}
            upload = await soak.request(client, "POST", "/api/images", files=files)
            if upload.status_code != 201:
                continue
            body = {"image_id": upload.json()["id"], **JOBS[turn % len(JOBS)]}
            turn += 1
            started = await soak.request(client, "POST", "/api/explanations", json=body)
            if started.status_code not in (200, 201):
                continue
            job_id = started.json()["id"]
            soak.accepted[job_id] = ""
            while not soak.accepted[job_id]:
                await asyncio.sleep(0.3)
                view = await soak.request(client, "GET", f"/api/jobs/{job_id}")
                status = view.json().get("status") if view.status_code == 200 else "lost"
                if status in TERMINAL or status == "lost":
                    soak.accepted[job_id] = status


async def _sample_rss(pid: int, every: float, until: float, soak: Soak) -> None:
    began = time.monotonic()
    while time.monotonic() < until + every:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                soak.rss.append((time.monotonic() - began, int(line.split()[1]) * 1024))
        await asyncio.sleep(every)


async def _run(url: str, pid: int, users: int, seconds: float, every: float) -> Soak:
    soak = Soak()
    until = time.monotonic() + seconds
    await asyncio.gather(
        _sample_rss(pid, every, until, soak),
        *(_user(url, seed, until, soak) for seed in range(users)),
    )
    return soak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--queued", type=int, default=4)
    parser.add_argument("--sample", type=float, default=10.0, help="seconds between RSS samples")
    args = parser.parse_args()
    users = 2 * (args.workers + args.queued)
    settings = {
        "LANTERN_JOB_WORKERS": str(args.workers),
        "LANTERN_MAX_QUEUED_JOBS": str(args.queued),
    }
    with serving(**settings) as (url, pid):
        soak = asyncio.run(_run(url, pid, users, args.minutes * 60, args.sample))
    _report(soak, users, args)


def _report(soak: Soak, users: int, args: argparse.Namespace) -> None:
    print(f"{users} users on {args.workers} workers + {args.queued} places, {args.minutes:g} min")
    print("status codes: " + ", ".join(f"{k}: {v}" for k, v in sorted(soak.statuses.items())))
    bad = {code: n for code, n in soak.statuses.items() if code >= 300 and code not in (429, 503)}
    print(f"  other than 2xx/429/503: {sum(bad.values())} {bad or ''}")
    print(f"  503/429 answered in   {_percentiles(soak.refusal_seconds)}")
    print(f"  the rest answered in  {_percentiles(soak.other_seconds)}")
    ends = Counter(soak.accepted.values())
    lost = ends.get("lost", 0) + ends.get("", 0)
    print(f"jobs accepted: {len(soak.accepted)}; ended: {dict(ends)}; lost: {lost}")
    print("server RSS (s: MiB): " + ", ".join(f"{t:.0f}: {r / 2**20:.0f}" for t, r in soak.rss))


if __name__ == "__main__":
    main()
