"""An audit as a server job: the request names Shapes data or an uploaded zip (never a server
path), the report lands under `data_dir/audits/KEY/` and is the job's result."""

import hashlib
import json
from typing import Any, Literal

from pydantic import Field

from app.audit.engine import AuditParams, check_address, run_audit
from app.compress.data import stored_dataset
from app.errors import BadParameter
from app.explain import METHODS
from app.jobs.queue import Job, JobQueue
from app.params import Params, Progress, parse_params
from app.settings import Settings
from app.zoo.pool import ModelPool

__all__ = ["AuditRequest", "start_audit"]


class AuditRequest(Params):
    """POST /api/audits: the CLI's options, with the data as Shapes or an uploaded zip's id."""

    shapes: str | None = Field(
        None, max_length=40, description="COUNT[:cue] of the Shapes generator, e.g. 500:aligned"
    )
    dataset: str | None = Field(
        None, max_length=64, description="id of a zip uploaded to /api/datasets"
    )
    model: str | None = Field(None, max_length=200, description="Default: the server's model")
    methods: list[str] = Field(default_factory=lambda: ["grad_cam"], max_length=8)
    engine: Literal["ray", "plain"] = Field("ray", description="Ray Data or a plain loop")
    workers: int = Field(1, ge=1, le=64, description="Scoring actors")
    limit: int | None = Field(None, ge=1, description="Audit only the first N images")
    seed: int = Field(0, ge=0, le=2**31 - 1)


def start_audit(
    settings: Settings, jobs: JobQueue, models: ModelPool, values: dict[str, Any]
) -> tuple[Job, bool]:
    """Queue the audit a request asks for (the same request again: the same job)."""
    request = parse_params(AuditRequest, values, "audit")
    if (request.shapes is None) == (request.dataset is None):
        raise BadParameter("audit: give either shapes (COUNT[:cue]) or dataset (an upload's id)")
    for method in request.methods:
        METHODS.get(method)  # an unknown name is a 404 now, not a failed job later
    if request.engine == "ray" and settings.ray_address:
        check_address(settings.ray_address)  # a cluster that does not answer: 422 now
    if request.dataset is not None:
        data = str(stored_dataset(settings.data_dir, request.dataset))
    else:
        data = f"shapes:{request.shapes}"
    params = AuditParams(
        data=data,
        model=request.model or settings.default_model,
        methods=request.methods,
        engine=request.engine,
        workers=request.workers,
        limit=request.limit,
        seed=request.seed,
    )
    described = request.model_dump(mode="json") | {"model": params.model}
    key = hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()[:24]
    out = settings.data_dir / "audits" / key

    def work(progress: Progress) -> dict[str, Any]:
        # The plain loop scores with the server's loaded model; Ray's workers load it by name.
        loaded = params.engine == "plain" and models.is_loaded(str(params.model))
        model = models.get(params.model) if loaded else None
        report = run_audit(params, settings, out, progress, model=model)
        return report | {"audit_id": key}

    # The request names its audit folder, so the page can follow the run's progress.json.
    return jobs.submit("audit", f"audit:{key}", described | {"audit_id": key}, work)
