"""Images per second of an audit: (a) a plain in-process loop over the existing engines
(`explain()` per image and method, one forward pass for the prediction), (b) the Ray Data path
(`run_audit`: an actor pool that decodes and scores) with 1 and 2 workers, and (c) 1 and 2
independent processes running the actors' code without Ray (the machine's own ceiling for 2
workers: on this 2-core VM two processes of the default model's occlusion each ran at half
speed), in one run; prints a markdown table with the ratios to (a), the 1 -> 2 worker scaling
efficiency, and the machine's own.

    python benchmarks/audit.py [--images 500] [--model shapes/student] [--methods grad_cam,saliency]
                               [--batch-size N] [--device cpu|cuda]

By default the model is a Shapes student (64×64, 137 k parameters, untrained weights: the
throughput does not depend on them) saved under a temporary data directory, so nothing is
downloaded; `--model efficientnet-lite0` measures the default model at 224×224 on the same
images as an unlabelled folder. Ray's times
include starting Ray and the actors loading the model (what a user waits for); the "scoring"
column is the images over the time the actors spent in the methods. Without --batch-size the
audit picks its own (about 2 s of work a batch, at most 64: `choose_batch_size`), as a user's
run does. Peak memory: this process
and, separately, its largest child (a Ray worker).
"""

import argparse
import json
import multiprocessing
import os
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from app.audit import AuditParams, run_audit
from app.audit.scoring import ModelLoader, Scorer, decode_batch, item_columns
from app.audit.sources import list_items
from app.explain import METHODS, explain
from app.settings import Settings


def plain_loop(params: AuditParams, settings: Settings) -> float:
    """Images/s of explain() per image and method over decoded images (decoding included)."""
    model = ModelLoader(params.model or settings.default_model, settings).load()
    listing = list_items(params.data, model.labels, params.max_images, 10**10, params.limit)
    started = time.perf_counter()
    for item in listing.items:
        batch = decode_batch(
            item_columns([item.location], [item.name]),
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


def _share(
    loader: ModelLoader,
    methods: dict[str, dict[str, Any]],
    locations: list[str],
    batch: int,
    barrier: Any,
    results: Any,
) -> None:
    """One independent process: the actors' Scorer (1 thread) over its share, timed from the
    moment every process is ready."""
    settings = loader.settings
    scorer = Scorer(loader, methods, 1, (settings.max_image_bytes, settings.max_image_pixels))

    scorer(item_columns(locations[:1]))  # warm up, as an actor's first batch is not timed
    barrier.wait()
    started = time.perf_counter()
    for start in range(0, len(locations), batch):
        scorer(item_columns(locations[start : start + batch]))
    results.put((len(locations), time.perf_counter() - started))


def processes(params: AuditParams, settings: Settings, count: int, batch: int) -> float:
    """Images/s of `count` independent processes without Ray, each one thread running the
    actors' Scorer over its share of the images at once: what the machine gives `count` workers
    with no Ray at all (memory bandwidth and shared caches included)."""
    loader = ModelLoader(params.model or settings.default_model, settings)
    model = loader.load()
    listing = list_items(params.data, model.labels, params.max_images, 10**10, params.limit)
    locations = [item.location for item in listing.items]
    methods = {m: METHODS.get(m).Params().model_dump(mode="json") for m in params.methods}
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(count), context.Queue()
    workers = [
        context.Process(
            target=_share, args=(loader, methods, locations[i::count], batch, barrier, results)
        )
        for i in range(count)
    ]
    for worker in workers:
        worker.start()
    done = [results.get() for _ in workers]
    for worker in workers:
        worker.join()
    return sum(images for images, _ in done) / max(seconds for _, seconds in done)


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
        "batch": provenance["batch_size"],
    }


def _flat_shapes(folder: Path, count: int) -> Path:
    from PIL import Image

    from app.shapes.dataset import ShapesDataset

    folder.mkdir(parents=True)
    dataset = ShapesDataset(count, 64, seed=0)
    for index in range(count):
        Image.fromarray(dataset.sample(index).image).save(folder / f"{index:05d}.png")
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--model", default="shapes/student")
    parser.add_argument("--methods", default="grad_cam,saliency")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch-size", type=int, help="images per batch (default: the audit's)")
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
        data = f"shapes:{args.images}"
    else:  # the Shapes images as an unlabelled folder: another model's labels are not Shapes'
        data = str(_flat_shapes(data_dir / "images", args.images))
    params = AuditParams(
        data=data,
        model=args.model,
        methods=[m for m in args.methods.split(",") if m],
        shard_size=64,
        batch_size=args.batch_size,
    )
    plain = float("nan") if args.skip_plain else plain_loop(params, settings)
    cpus = os.cpu_count() or 1
    runs = [
        (f"(b) Ray, 1 worker × {cpus} threads", ray_run(params, settings, 1, threads=cpus)),
        ("(b) Ray, 1 worker × 1 thread (the default)", ray_run(params, settings, 1)),
        ("(b) Ray, 2 workers × 1 thread", ray_run(params, settings, 2)),
    ]
    batch = runs[1][1]["batch"]
    alone = [processes(params, settings, count, batch) for count in (1, 2)]
    print(
        f"{args.images} Shapes images, {args.model}, methods {args.methods}, {args.device}, "
        f"{batch} images a batch"
    )
    print(
        "| path | images/s (wall, with start-up) | start-up s"
        " | images/s (first batch's start to last one's end) | vs plain |"
    )
    print("|---|---|---|---|---|")
    print(f"| (a) plain loop, explain() | {plain:.3g} | 0 | {plain:.3g} | 1.00 |")
    for name, run in runs:
        print(
            f"| {name} | {run['wall']:.3g} | {run['startup']:.1f} | {run['steady']:.3g} "
            f"| {run['steady'] / plain:.2f} |"
        )
    for count, rate in zip((1, 2), alone, strict=True):
        name = f"(c) {count} independent process{'es' if count > 1 else ''} × 1 thread, no Ray"
        print(f"| {name} | {rate:.3g} | 0 | {rate:.3g} | {rate / plain:.2f} |")
    one, two = runs[1][1], runs[2][1]
    # Each worker one thread: 1 worker × CPUs threads already spreads over every core, so
    # against it a second actor could only share them.
    efficiency = two["steady"] / (2 * one["steady"])
    print(f"\nscaling efficiency 1 -> 2 workers, 1 thread each (after start-up): {efficiency:.2f}")
    print(
        f"the machine's own scaling, 1 -> 2 independent processes: {alone[1] / (2 * alone[0]):.2f}"
        f"; Ray's 2 workers against 2 independent processes: {two['steady'] / alone[1]:.2f}"
    )
    default = runs[0][1]["steady"]
    print(f"2 workers × 1 thread against 1 worker × {cpus} threads: {two['steady'] / default:.2f}")
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"peak memory: this process {own:.0f} MiB, largest child process {child:.0f} MiB")


if __name__ == "__main__":
    main()
