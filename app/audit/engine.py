"""run_audit(): list the data, split it in shards, score the shards not yet done (on Ray Data or
in a plain loop), then build the report from every shard's part.

Resumable: `OUT/manifest.json` names each shard by a hash of (its images' content hashes, the
model's hash, the method settings); a shard's results land at once as `OUT/parts/ID.parquet`
(written beside, then renamed). A rerun scores only shards without a part, so a run killed at
any moment loses at most the shards in flight and ends with the report an uninterrupted run
gives.
"""

import hashlib
import json
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch
from pydantic import Field

from app.audit.scoring import ModelLoader, Scorer, item_columns
from app.audit.sources import Item, Listing, list_items
from app.errors import BadParameter, UnsupportedMethod
from app.explain import METHODS
from app.params import Params, Progress, no_progress, parse_params
from app.settings import Settings
from app.zoo import LoadedModel

__all__ = ["AuditParams", "Shard", "plan_shards", "run_audit", "score_shards"]

_LOOPBACK = ("127.0.0.1", "localhost")
_RAY_LOCK = threading.Lock()
FORMAT = 2  # bump when what a part holds changes: old parts are then recomputed
BATCH_SECONDS = 2.0  # a scoring batch's work, when batch_size is not given
MAX_BATCH = 64


class AuditParams(Params):
    """What to audit and how (the CLI's flags, the API's body)."""

    data: str = Field(description="Folder, .zip, or shapes:COUNT[:cue]")
    model: str | None = Field(None, description="Model name (default: the server's)")
    methods: list[str] = Field(default_factory=lambda: ["grad_cam"], max_length=8)
    method_params: dict[str, dict[str, Any]] = Field(default_factory=dict)
    engine: Literal["ray", "plain"] = Field("ray", description="Ray Data, or a plain loop")
    ray_address: str | None = Field(None, description="host:port of a running Ray cluster")
    workers: int = Field(1, ge=1, le=256, description="Scoring actors")
    threads: int = Field(
        1,
        ge=1,
        le=256,
        description="torch threads per scoring actor: scale with workers, not threads (on a "
        "busy machine 2 threads made occlusion 20x slower per image than 1)",
    )
    limit: int | None = Field(None, ge=1, description="Audit only the first N images")
    seed: int = Field(0, ge=0, description="Seed of the calibration split and clustering")
    shard_size: int = Field(64, ge=1, le=100_000, description="Images per shard")
    batch_size: int | None = Field(
        None,
        ge=1,
        le=1024,
        description="Images per scoring batch (one Ray task each; default: about "
        f"{BATCH_SECONDS:g} s of work, from scoring one image here, at most {MAX_BATCH})",
    )
    max_images: int = Field(100_000, ge=1, description="Refuse larger datasets")
    sanity_images: int = Field(
        2, ge=0, le=32, description="Images for each method's randomisation check (0: none)"
    )


@dataclass(frozen=True)
class Shard:
    id: str
    items: list[Item] = field(hash=False)


Collect = Callable[[str, dict[str, Any]], None]


def run_audit(
    params: AuditParams,
    settings: Settings,
    out: Path,
    progress: Progress = no_progress,
    model: LoadedModel | None = None,
) -> dict[str, Any]:
    """Audit params.data into `out` (report.json, images.parquet, maps/, parts/); returns the
    report. Every bad input is a LanternError before any image is scored."""
    from app.audit.report import build_report

    started = time.perf_counter()
    if params.ray_address is None and settings.ray_address:
        params = params.model_copy(update={"ray_address": settings.ray_address})
    name = params.model or settings.default_model
    loader = ModelLoader(name, settings)
    model = model or loader.load()
    methods = _method_settings(model, params)
    listing = list_items(
        params.data,
        model.labels,
        params.max_images,
        settings.max_dataset_bytes,
        params.limit,
    )
    if params.ray_address and params.engine == "ray":
        check_address(params.ray_address)
    model_hash = hash_model(model)
    run_key = _digest({"format": FORMAT, "model": model_hash, "methods": methods})
    shards = plan_shards(listing, run_key, params.shard_size)
    out.mkdir(parents=True, exist_ok=True)
    (out / "parts").mkdir(exist_ok=True)
    _write_atomic(
        out / "manifest.json",
        json.dumps(
            {
                "run_key": run_key,
                "model": name,
                "model_hash": model_hash,
                "methods": methods,
                "shards": [
                    {
                        "id": s.id,
                        "images": [i.name for i in s.items],
                        "locations": [i.location for i in s.items],
                    }
                    for s in shards
                ],
            },
            indent=1,
        ).encode(),
    )
    pending = [shard for shard in shards if not part_path(out, shard.id).is_file()]
    reused = len(shards) - len(pending)
    scoring_started = time.perf_counter()
    batch_size = score_shards(pending, out, loader, model, methods, params, progress)
    scoring_seconds = time.perf_counter() - scoring_started
    # This run's measured rate through every method, from the first batch's start to the last
    # one's end (progress.json; None when every shard was reused), and the start-up before it.
    live = json.loads((out / "progress.json").read_text()) if pending else {}
    report = build_report(
        out,
        listing,
        shards,
        model,
        methods,
        params,
        settings,
        provenance={
            "model": name,
            "model_hash": model_hash,
            "weights": model.weights,
            "data": params.data,
            "data_hash": listing.data_hash,
            "data_kind": listing.kind,
            "methods": methods,
            "engine": params.engine if params.engine == "plain" else "ray data",
            "ray_address": params.ray_address,
            "workers": params.workers,
            "seed": params.seed,
            "shards": len(shards),
            "shards_reused": reused,
            "shard_size": params.shard_size,
            "batch_size": batch_size,
            "images_scored_now": sum(len(s.items) for s in pending),
            "scoring_seconds": round(scoring_seconds, 3),
            "startup_seconds": live.get("startup_seconds"),
            "scoring_images_per_second": live.get("scoring_images_per_second"),
            "seconds": round(time.perf_counter() - started, 3),
        },
    )
    return report


def _method_settings(model: LoadedModel, params: AuditParams) -> dict[str, dict[str, Any]]:
    """Each method's full parameters (defaults filled in): part of every shard's key."""
    if len(set(params.methods)) != len(params.methods):
        raise BadParameter("methods: a method is named twice")
    unknown = set(params.method_params) - set(params.methods)
    if unknown:
        raise BadParameter(f"method_params: {', '.join(sorted(unknown))} is not in methods")
    settings = {}
    for name in params.methods:
        method = METHODS.get(name)
        reason = method.supports(model)
        if reason is not None:
            raise UnsupportedMethod(f"{name} cannot run on {model.name}: {reason}")
        parsed = parse_params(method.Params, params.method_params.get(name), name)
        settings[name] = parsed.model_dump(mode="json")
    return settings


def hash_model(model: LoadedModel) -> str:
    """sha256 of the model's name, labels and every tensor of its state dict, in name order."""
    digest = hashlib.sha256(model.name.encode())
    digest.update("\n".join(model.labels).encode())
    for key, tensor in sorted(model.module.state_dict().items()):
        digest.update(key.encode())
        digest.update(
            tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()
        )
    return digest.hexdigest()


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()


def plan_shards(listing: Listing, run_key: str, shard_size: int) -> list[Shard]:
    """Consecutive runs of `shard_size` items in name order; a shard's id hashes the run key
    and its items' names, labels and content hashes."""
    items = sorted(listing.items, key=lambda item: item.name)
    shards = []
    for start in range(0, len(items), shard_size):
        chunk = items[start : start + shard_size]
        key = [run_key] + [f"{i.name}\0{i.label}\0{i.content_hash}" for i in chunk]
        shards.append(Shard(_digest(key)[:24], chunk))
    return shards


def part_path(out: Path, shard_id: str) -> Path:
    return out / "parts" / f"{shard_id}.parquet"


def _write_atomic(path: Path, content: bytes) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_bytes(content)
    with temporary.open("rb") as handle:
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def write_part(out: Path, shard: Shard, rows: dict[str, dict[str, Any]]) -> None:
    """The shard's rows (in the shard's item order) as one Parquet file, renamed into place."""
    ordered = [rows[f"{shard.id}/{position}"] for position in range(len(shard.items))]
    columns: dict[str, Any] = {"key": [row["key"] for row in ordered]}
    columns["name"] = [item.name for item in shard.items]
    for column in ordered[0]:
        if column == "key":
            continue
        values = [row[column] for row in ordered]
        if isinstance(values[0], np.ndarray):
            first = values[0]
            columns[column] = pa.array(
                [np.asarray(v, first.dtype).ravel().tolist() for v in values],
                pa.list_(pa.from_numpy_dtype(first.dtype)),
            )
            columns[f"{column}.shape"] = [list(first.shape)] * len(values)
        else:
            columns[column] = values
    table = pa.table(columns)
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    _write_atomic(part_path(out, shard.id), sink.getvalue().to_pybytes())


def read_part(out: Path, shard_id: str) -> dict[str, Any]:
    """Columns of a part; array columns back in their shapes (list of arrays)."""
    table = pq.read_table(part_path(out, shard_id))
    columns: dict[str, Any] = {}
    for column in table.column_names:
        if column.endswith(".shape"):
            continue
        values = table.column(column).to_pylist()
        if f"{column}.shape" in table.column_names:
            shapes = table.column(f"{column}.shape").to_pylist()
            dtype = table.schema.field(column).type.value_type.to_pandas_dtype()
            values = [np.asarray(v, dtype).reshape(s) for v, s in zip(values, shapes, strict=True)]
        columns[column] = values
    return columns


def score_shards(
    shards: list[Shard],
    out: Path,
    loader: ModelLoader,
    model: LoadedModel,
    methods: dict[str, dict[str, Any]],
    params: AuditParams,
    progress: Progress = no_progress,
) -> int | None:
    """Score every item of `shards`, writing each shard's part as soon as its last row lands;
    returns the batch size used (None: nothing to score)."""
    total = sum(len(shard.items) for shard in shards)
    if total == 0:
        return None
    progress(0, total)
    rows_by_key = {
        f"{shard.id}/{position}": {
            "key": f"{shard.id}/{position}",
            "location": item.location,
        }
        for shard in shards
        for position, item in enumerate(shard.items)
    }
    waiting = {shard.id: len(shard.items) for shard in shards}
    live = _LiveProgress(out, total, len(shards), params.workers)
    by_id = {shard.id: shard for shard in shards}
    landed: dict[str, dict[str, dict[str, Any]]] = {shard.id: {} for shard in shards}
    done = 0
    limits = (loader.settings.max_image_bytes, loader.settings.max_image_pixels)
    rows = list(rows_by_key.values())
    if params.batch_size:
        batch_size = params.batch_size
    else:  # and no fewer batches than two a worker, so that every worker has work
        fair = -(-len(rows) // (2 * params.workers))
        batch_size = min(fair, choose_batch_size(rows, model, methods, limits))
    if params.engine == "plain":
        batches = _plain(rows, model, methods, limits, batch_size)
    else:
        batches = _ray(rows, loader, methods, limits, params, batch_size)
    for batch in batches:
        live.add(batch)
        for index, key in enumerate(batch["key"]):
            shard_id = str(key).split("/")[0]
            landed[shard_id][str(key)] = {column: batch[column][index] for column in batch}
            waiting[shard_id] -= 1
            done += 1
            if waiting[shard_id] == 0:
                write_part(out, by_id[shard_id], landed.pop(shard_id))
                live.shards_done += 1
        live.write()
        progress(done, total)
    live.write(final=True)
    return batch_size


class _LiveProgress:
    """`OUT/progress.json` while scoring: images done of this run's, per worker (host:pid of
    each scoring actor), images/s and the ETA; the page polls it. Written at most once a second
    (and at the end), atomically.

    The actors stamp each batch with wall-clock start and end times, so the file also says how
    long start-up took (Ray, the actors loading the model: until the first batch began) and the
    scoring rate from the first batch's start to the last one's end, which Ray Data's buffering
    of results towards the driver does not blur."""

    def __init__(self, out: Path, total: int, shards: int, workers: int) -> None:
        self.path = out / "progress.json"
        self.total = total
        self.shards = shards
        self.shards_done = 0
        self.workers = workers
        self.done = 0
        self.per_worker: dict[str, int] = {}
        self.started = time.time()
        self.first_began: float | None = None
        self.last_ended: float | None = None
        self.written = 0.0

    def add(self, batch: dict[str, np.ndarray]) -> None:
        began, ended = batch.get("batch_began"), batch.get("batch_ended")
        if began is not None and ended is not None and len(began):
            first, last = float(np.min(began)), float(np.max(ended))
            self.first_began = first if self.first_began is None else min(first, self.first_began)
            self.last_ended = last if self.last_ended is None else max(last, self.last_ended)
        for worker in batch.get("worker", ["in-process"] * len(batch["key"])):
            self.per_worker[str(worker)] = self.per_worker.get(str(worker), 0) + 1
            self.done += 1

    def write(self, final: bool = False) -> None:
        now = time.time()
        if not final and now - self.written < 1.0:
            return
        self.written = now
        elapsed = now - self.started
        rate = self.done / elapsed if elapsed > 0 and self.done else None
        scoring = None
        if self.first_began is not None and self.last_ended is not None:
            span = self.last_ended - self.first_began
            scoring = round(self.done / span, 3) if span > 0 else None
        remaining = self.total - self.done
        state = {
            "running": not final,
            "done": self.done,
            "total": self.total,
            "shards_done": self.shards_done,
            "shards": self.shards,
            "workers": self.workers,
            "per_worker": dict(sorted(self.per_worker.items())),
            "seconds": round(elapsed, 3),
            "images_per_second": None if rate is None else round(rate, 3),
            "eta_seconds": None if rate is None else round(remaining / (scoring or rate), 1),
            "startup_seconds": None
            if self.first_began is None
            else round(max(0.0, self.first_began - self.started), 3),
            "scoring_images_per_second": scoring,
        }
        _write_atomic(self.path, json.dumps(state).encode())


def choose_batch_size(
    rows: list[dict[str, Any]],
    model: LoadedModel,
    methods: dict[str, dict[str, Any]],
    limits: tuple[int, int],
) -> int:
    """Images per batch for about BATCH_SECONDS of work (1 to MAX_BATCH), from scoring the first
    readable of the first few rows here, twice unless the first took a batch's time (the first
    call warms up: timed once, the default model's Grad-CAM + saliency gave batches of 5; timed
    twice, 33).

    Small batches of quick work spend the run in per-task overhead (Shapes occlusion on two
    workers: 16 images a batch scaled 0.75 from one worker to two, 64 scaled 0.90); large
    batches of slow work report progress rarely (the default model's occlusion takes seconds
    an image) and leave one worker finishing its last batch while the other idles."""
    scorer = Scorer.around(model, methods, limits)
    for row in rows[:5]:
        single = item_columns([row["location"]], [row["key"]])
        seconds = float("inf")
        for _ in range(2):
            started = time.perf_counter()
            scored = scorer(single)
            seconds = min(seconds, time.perf_counter() - started)
            if scored["error"][0] or seconds >= BATCH_SECONDS:  # one a batch either way
                break
        if not scored["error"][0]:
            return max(1, min(MAX_BATCH, int(BATCH_SECONDS / max(seconds, 1e-6))))
    return 16


def _plain(
    rows: list[dict[str, Any]],
    model: LoadedModel,
    methods: dict[str, dict[str, Any]],
    limits: tuple[int, int],
    batch_size: int,
) -> Iterator[dict[str, np.ndarray]]:
    """The same Scorer (decode and score), in this process, one batch at a time (no Ray)."""
    scorer = Scorer.around(model, methods, limits)
    for start in range(0, len(rows), batch_size):
        chunk = rows[start : start + batch_size]
        yield scorer(item_columns([r["location"] for r in chunk], [r["key"] for r in chunk]))


def check_address(address: str) -> None:
    """A one-line BadParameter when host:port of a Ray head does not accept a connection."""
    if address in ("auto", "local") or address.startswith("ray://"):
        return
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise BadParameter(f"ray address {address!r}: write host:port (e.g. 127.0.0.1:6379)")
    try:
        with socket.create_connection((host, int(port)), timeout=5):
            pass
    except OSError as error:
        raise BadParameter(f"the Ray cluster at {address} does not answer: {error}") from None


def _join(address: str) -> None:
    """ray.init(address) for a cluster; a head bound to loopback stays on loopback.

    Ray rewrites a loopback address to the machine's own address before connecting
    (services.resolve_ip_for_localhost), where a head started with --node-ip-address=127.0.0.1
    does not listen; its switch for that (read at call time) is held off while joining."""
    import ray
    from ray._private import ray_constants

    if address.rpartition(":")[0] not in _LOOPBACK:
        ray.init(address=address, log_to_driver=False)
        return
    saved = ray_constants.ENABLE_RAY_CLUSTER
    ray_constants.ENABLE_RAY_CLUSTER = False
    try:
        ray.init(address=address, log_to_driver=False, _node_ip_address="127.0.0.1")
    finally:
        ray_constants.ENABLE_RAY_CLUSTER = saved


def _ray(
    rows: list[dict[str, Any]],
    loader: ModelLoader,
    methods: dict[str, dict[str, Any]],
    limits: tuple[int, int],
    params: AuditParams,
    batch_size: int,
) -> Iterator[dict[str, np.ndarray]]:
    """Decode and score in an actor pool of params.workers actors that each load the model
    once; yields the scored batches as they finish."""
    with _RAY_LOCK:  # one Ray session per process: a second audit waits for the first
        yield from _ray_session(rows, loader, methods, limits, params, batch_size)


def _ray_session(
    rows: list[dict[str, Any]],
    loader: ModelLoader,
    methods: dict[str, dict[str, Any]],
    limits: tuple[int, int],
    params: AuditParams,
    batch_size: int,
) -> Iterator[dict[str, np.ndarray]]:
    import ray
    from ray.data import ActorPoolStrategy, DataContext

    started_here = False
    cpus = os.cpu_count() or 1
    if not ray.is_initialized():
        if params.ray_address:
            _join(params.ray_address)
        else:
            ray.init(
                num_cpus=max(cpus, params.workers),
                include_dashboard=False,
                _node_ip_address="127.0.0.1",
                object_store_memory=512 * 1024 * 1024,
                log_to_driver=False,
                configure_logging=False,
            )
        started_here = True
    try:
        context = DataContext.get_current()
        context.enable_progress_bars = False
        context.print_on_execution_start = False
        # One thread per actor, more actors for more cores: torch's intra-op threads on small
        # per-image work spin at every barrier when a core is taken (docs/audit.md, measured).
        threads = params.threads
        # One block per batch: one actor task each, and progress as each batch lands.
        blocks = -(-len(rows) // batch_size)
        dataset: Any = ray.data.from_items(rows, override_num_blocks=blocks)
        dataset = dataset.map_batches(
            Scorer,
            batch_size=batch_size,
            batch_format="numpy",
            # Two blocks queued per actor (Ray's default is 4): with few blocks per actor, a deep
            # queue leaves one actor working through its backlog while the other idles at the end.
            compute=ActorPoolStrategy(size=params.workers, max_tasks_in_flight_per_actor=2),
            fn_constructor_kwargs={
                "loader": loader,
                "methods": methods,
                "threads": threads,
                "limits": limits,
            },
            num_cpus=1,
        )
        yield from dataset.iter_batches(batch_size=None, batch_format="numpy")
    finally:
        if started_here:
            ray.shutdown()
