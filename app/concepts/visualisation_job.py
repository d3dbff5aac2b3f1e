"""A feature visualisation as a server job: cancellable, with progress per step; its image is
cached under data_dir/concepts/_feature_visualisations/KEY.png (KEY: model, layer, channel and
settings), so the same request again, even after a restart, answers at once."""

import re
from pathlib import Path
from typing import Any

from pydantic import Field

from app.concepts.feature_visualisation import (
    FeatureVisualisation,
    FeatureVisualisationParams,
    _check,
    cache_key,
    visualise,
)
from app.errors import UnknownAsset
from app.jobs.queue import Job, JobQueue
from app.params import Progress, parse_params
from app.settings import Settings
from app.zoo.pool import ModelPool

__all__ = ["FeatureVisualisationRequest", "start_feature_visualisation", "visualisation_png"]

_KEY = re.compile(r"[0-9a-f]{24}")


class FeatureVisualisationRequest(FeatureVisualisationParams):
    """POST /api/concepts/visualisations: a channel (layer + channel) or a class (target) of a
    model, and the optimisation's budget."""

    model: str | None = Field(None, max_length=200, description="Default: the server's model")


def visualisation_folder(settings: Settings) -> Path:
    """Where finished feature visualisations are kept (outside any model's index folder, which
    a new index replaces whole)."""
    return settings.data_dir / "concepts" / "_feature_visualisations"


def visualisation_png(settings: Settings, key: str) -> Path:
    """The cached image named `key`; UnknownAsset when there is none."""
    path = visualisation_folder(settings) / f"{key}.png"
    if not _KEY.fullmatch(key) or not path.is_file():
        raise UnknownAsset(f"no feature visualisation {key!r} (start one first)")
    return path


def start_feature_visualisation(
    settings: Settings, jobs: JobQueue, models: ModelPool, values: dict[str, Any]
) -> tuple[Job, bool]:
    """Queue the visualisation a request asks for (checked now: a bad layer, channel or class is
    a 4xx, not a failed job); the same request again is the same job."""
    request = parse_params(FeatureVisualisationRequest, values, "feature visualisation")
    name = request.model or settings.default_model
    model = models.get(name)
    params = FeatureVisualisationParams(**request.model_dump(exclude={"model"}))
    _check(model, params)
    key = cache_key(model, params)
    described = params.model_dump(mode="json") | {"model": name}

    def work(progress: Progress) -> FeatureVisualisation:
        return visualise(models.get(name), params, progress, visualisation_folder(settings))

    return jobs.submit("feature_visualisation", f"feature_visualisation:{key}", described, work)
