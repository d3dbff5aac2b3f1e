"""Images per second of an audit: (a) a plain in-process loop over the existing engines
(`explain()` per image and method, one forward pass for the prediction), (b) the Ray Data path
(`run_audit`, decode tasks and an actor pool) with 1 and 2 workers, in one run; prints a
markdown table with the ratios to (a) and the 1 -> 2 worker scaling efficiency.

    python benchmarks/audit.py [--images 500] [--model shapes/student] [--methods grad_cam,saliency]
                               [--device cpu|cuda]

By default the model is a Shapes student (64×64, 137 k parameters, untrained weights: the
throughput does not depend on them) saved under a temporary data directory, so nothing is
downloaded; `--model efficientnet-lite0` measures the default model at 224×224. Ray's times
include starting Ray and the actors loading the model (what a user waits for); the "scoring"
column is the images over the time the actors spent in the methods. Peak memory: this process
and, separately, its largest child (a Ray worker).
"""

import argparse
import json
import os
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from app.audit import AuditParams, run_audit
from app.audit.scoring import ModelLoader, decode_batch
from app.audit.sources import list_items
from app.explain import explain
from app.settings import Settings


def plain_loop(params: AuditParams, settings: Settings) -> float:
    """Images/s of explain() per image and method over decoded images (decoding included)."""
    model = ModelLoader(params.model or settings.default_model, settings).load()
    listing = list_items(params.data, model.labels, params.max_images, 10**10, params.limit)
    started = time.perf_counter()
    for item in listing.items:
        batch = decode_batch(
            {"key": [item.name], "location": [item.location]},  # type: ignore[dict-item]
            model.preprocessing,
            settings.max_image_bytes,
            settings.max_image_pixels,
        )
        pixels = torch.from_numpy(batch["pixels"][0]).permute(2, 0, 1).float() / 255.0
        probs = model.probabilities(pixels[None].to(model.device))[0]
        target = int(probs.argmax())
        for method in params.methods:
            explain(model, pixels, method, target)
    return len(listing.items) / (time.perf_counter() - started)


def ray_run(
    params: AuditParams, settings: Settings, workers: int, threads: int | None = None
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        update: dict[str, Any] = {"engine": "ray", "workers": workers, "sanity_images": 0}
        if threads is not None:
            update["threads"] = threads
        report = run_audit(params.model_copy(update=update), settings, Path(out))
        seconds = time.perf_counter() - started
        progress = json.loads((Path(out) / "progress.json").read_text())
    provenance = report["provenance"]
    per_image = sum(provenance["seconds_per_image"].values())
    return {
        "wall": report["scored"] / seconds,
        "scoring": report["scored"] / provenance["scoring_seconds"],
        "steady": progress["scoring_images_per_second"] or float("nan"),
        "startup": progress["startup_seconds"],
        "actor": workers / per_image if per_image else float("nan"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--model", default="shapes/student")
    parser.add_argument("--methods", default="grad_cam,saliency")
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--skip-plain", action="store_true", help="no plain loop (long runs of slow methods)"
    )
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="audit-bench-"))
    settings = Settings(data_dir=data_dir, device=args.device)
    if args.model.startswith("shapes/"):
        from app.shapes.networks import ShapesStudent
        from app.shapes.storage import save_model

        torch.manual_seed(0)
        save_model(settings, "student", ShapesStudent(24).eval())
    params = AuditParams(
        data=f"shapes:{args.images}",
        model=args.model,
        methods=[m for m in args.methods.split(",") if m],
        shard_size=64,
        batch_size=16,
    )
    plain = float("nan") if args.skip_plain else plain_loop(params, settings)
    cpus = os.cpu_count() or 1
    runs = [
        (f"(b) Ray, 1 worker × {cpus} threads", ray_run(params, settings, 1, threads=cpus)),
        ("(b) Ray, 1 worker × 1 thread (the default)", ray_run(params, settings, 1)),
        ("(b) Ray, 2 workers × 1 thread", ray_run(params, settings, 2)),
    ]
    print(f"{args.images} Shapes images, {args.model}, methods {args.methods}, {args.device}")
    print(
        "| path | images/s (wall, with start-up) | start-up s"
        " | images/s (first batch's start to last one's end) | vs plain |"
    )
    print("|---|---|---|---|---|")
    print(f"| (a) plain loop, explain() | {plain:.1f} | 0 | {plain:.1f} | 1.00 |")
    for name, run in runs:
        print(
            f"| {name} | {run['wall']:.1f} | {run['startup']:.1f} | {run['steady']:.1f} "
            f"| {run['steady'] / plain:.2f} |"
        )
    one, two = runs[1][1], runs[2][1]
    # Each worker one thread: 1 worker × CPUs threads already spreads over every core, so
    # against it a second actor could only share them.
    efficiency = two["steady"] / (2 * one["steady"])
    print(f"\nscaling efficiency 1 -> 2 workers, 1 thread each (after start-up): {efficiency:.2f}")
    default = runs[0][1]["steady"]
    print(f"2 workers × 1 thread against 1 worker × {cpus} threads: {two['steady'] / default:.2f}")
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"peak memory: this process {own:.0f} MiB, largest child process {child:.0f} MiB")


if __name__ == "__main__":
    main()
