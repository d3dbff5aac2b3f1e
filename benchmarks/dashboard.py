"""From upload to the five default panes, through the HTTP API, against the same five methods
called directly with the Python API (explain()) one after another, in the same run.

The ratio shows what the server adds (or saves, by running two jobs at once) on this machine.

    python benchmarks/dashboard.py [--repeats 3] [--workers 2] [--device cpu]

Each repeat uses another sample photo, so no API result comes from the cache.
"""

import argparse
import platform
import statistics
import time

import torch
from fastapi.testclient import TestClient

from app.explain import METHODS, explain
from app.imaging import SAMPLES, sample_image
from app.main import create_app
from app.settings import Settings
from app.zoo import load_model
from app.zoo.pool import ModelPool

PANEL = [method.name for method in METHODS if method.in_default_panel]


def through_the_api(client: TestClient, sample: str) -> tuple[float, dict[str, float]]:
    """Seconds from the upload request to the last pane's result; and each method's own time."""
    started = time.perf_counter()
    image = client.post(f"/api/images/samples/{sample}").json()
    jobs = {
        method: client.post(
            "/api/explanations", json={"image_id": image["id"], "method": method}
        ).json()["id"]
        for method in PANEL
    }
    seconds = {}
    while len(seconds) < len(jobs):
        for method, job_id in jobs.items():
            if method in seconds:
                continue
            view = client.get(f"/api/jobs/{job_id}").json()
            if view["status"] == "done":
                seconds[method] = view["result"]["seconds"]
            elif view["status"] in ("failed", "cancelled"):
                raise RuntimeError(f"{method}: {view['error']}")
        time.sleep(0.05)  # about what a browser following the SSE stream sees
    return time.perf_counter() - started, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    samples = list(SAMPLES)
    if not 1 <= args.repeats <= len(samples):
        parser.error(f"--repeats: 1 to {len(samples)} (one sample photo each, none cached)")
    settings = Settings(device=args.device, job_workers=args.workers, kept_jobs=16)
    model = load_model(settings.default_model, settings)
    direct_times, api_times = [], []
    with TestClient(create_app(settings, ModelPool(settings, load_model, [model]))) as client:
        for repeat in range(args.repeats):
            # A different photo each repeat, so no result comes from the cache.
            sample = samples[repeat % len(samples)]
            pixels = model.preprocessing.model_view(sample_image(sample))
            started = time.perf_counter()
            for method in PANEL:
                explain(model, pixels, method)
            direct_times.append(time.perf_counter() - started)
            total, per_method = through_the_api(client, sample)
            api_times.append(total)
            print(
                f"repeat {repeat + 1} ({sample}): direct {direct_times[-1]:.2f} s, "
                f"API {total:.2f} s; "
                + ", ".join(f"{name} {seconds:.2f} s" for name, seconds in per_method.items())
            )
    direct, api = statistics.median(direct_times), statistics.median(api_times)
    print()
    threads = torch.get_num_threads()
    print(f"machine: {platform.processor() or platform.machine()}, {threads} threads,")
    print(f"device {args.device}, torch {torch.__version__}, {args.workers} job workers")
    print(f"| path | median of {args.repeats} | ratio |")
    print("|---|---|---|")
    print(f"| five methods called one after another (explain) | {direct:.2f} s | 1.00 |")
    print(f"| upload + five panes through the HTTP API | {api:.2f} s | {api / direct:.2f} |")


if __name__ == "__main__":
    main()
