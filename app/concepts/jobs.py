"""The concept tools as server jobs (kinds concept_index, concept_breakdown, tcav; their views
and routes are in app/api/concepts.py). Requests are checked before a job is queued, so a bad
layer, class or set is a 4xx, not a failed job.

On a server, DATA and the sets come from `samples`, `shapes:COUNT[:cue]`, `texture:NAME`,
`noise:SEED` or `dataset:ID` (a zip uploaded with POST /api/compress/datasets); never a path.
"""

import re
from typing import Any

import torch
from pydantic import Field

from app.compress.data import stored_dataset
from app.concepts.breakdown import breakdown
from app.concepts.data import concept_set, reference_images
from app.concepts.index import build_index, index_folder, write_index
from app.concepts.tap import check_layers
from app.concepts.tcav import ConceptSet, run_tcav
from app.errors import BadParameter, BadTarget
from app.jobs.queue import Job, JobQueue
from app.params import Params, Progress, parse_params
from app.settings import Settings
from app.zoo import LoadedModel
from app.zoo.pool import ModelPool

__all__ = [
    "BreakdownRequest",
    "IndexRequest",
    "TcavRequest",
    "start_breakdown",
    "start_index",
    "start_tcav",
]

_SOURCE = re.compile(
    r"^(samples|shapes:\d+(:(random|aligned|swapped))?|texture:[A-Za-z _-]+|noise:\d+"
    r"|dataset:[0-9a-f]{16})$"
)
_Source = Field(
    max_length=80,
    description="samples, shapes:COUNT[:cue], texture:NAME, noise:SEED or dataset:ID",
)


class IndexRequest(Params):
    """POST /api/concepts/index: index DATA at these layers of a model (replaces its index)."""

    model: str | None = Field(None, max_length=200, description="Default: the server's model")
    data: str = Field("samples", max_length=80, description="samples, shapes:COUNT, dataset:ID")
    layers: list[str] = Field(min_length=1, max_length=8, description="Layers to index")
    top: int = Field(9, ge=1, le=50, description="Exemplars kept per channel")


class BreakdownRequest(Params):
    """POST /api/concepts/breakdown: the channels of a layer carrying one prediction."""

    model: str | None = Field(None, max_length=200, description="Default: the server's model")
    image_id: str = Field(max_length=64, description="An uploaded image")
    layer: str = Field(max_length=200)
    target: int | None = Field(None, ge=0, description="Class (default: the predicted one)")
    top: int = Field(5, ge=1, le=50, description="Channels listed")


class TcavRequest(Params):
    """POST /api/concepts/tcav: does a concept drive a class? (TCAV with its t-test)."""

    model: str | None = Field(None, max_length=200, description="Default: the server's model")
    concept: str = _Source
    randoms: list[str] = Field(min_length=1, max_length=20, description="Random sets")
    layers: list[str] = Field(min_length=1, max_length=4)
    target: int = Field(ge=0, description="The class")
    inputs: str = Field("samples", max_length=80, description="Images scored for the class")
    count: int = Field(30, ge=3, le=200, description="Images per concept or random set")
    seed: int = Field(0, ge=0, description="Seed of the CAV classifiers")


def _resolve(settings: Settings, source: str) -> str:
    if not _SOURCE.fullmatch(source):
        raise BadParameter(
            f"{source!r}: give samples, shapes:COUNT, texture:NAME, noise:SEED or dataset:ID"
        )
    if source.startswith("dataset:"):
        return str(stored_dataset(settings.data_dir, source.removeprefix("dataset:")))
    return source


def _model(models: ModelPool, settings: Settings, name: str | None) -> tuple[str, LoadedModel]:
    chosen = name or settings.default_model
    return chosen, models.get(chosen)


def start_index(
    settings: Settings, jobs: JobQueue, models: ModelPool, values: dict[str, Any]
) -> tuple[Job, bool]:
    request = parse_params(IndexRequest, values, "concept index")
    name, model = _model(models, settings, request.model)
    check_layers(model, request.layers)
    data = _resolve(settings, request.data)
    described = request.model_dump(mode="json") | {"model": name}

    def work(progress: Progress) -> dict[str, Any]:
        model = models.get(name)
        count, images = reference_images(data, model, settings)
        index = build_index(model, images, request.layers, request.top, progress, count)
        index["data"] = request.data
        write_index(index, index_folder(settings, model.name))
        return {
            "model": model.name,
            "data": request.data,
            "images": index["images"],
            "engine": index["engine"],
            "layers": {
                layer: {"channels": entry["channels"], "tapped_as": entry["tapped_as"]}
                for layer, entry in index["layers"].items()
            },
        }

    key = f"concept_index:{name}:{request.data}:{','.join(request.layers)}:{request.top}"
    return jobs.submit("concept_index", key, described, work)


def start_breakdown(
    settings: Settings,
    jobs: JobQueue,
    models: ModelPool,
    values: dict[str, Any],
    pixels_of: Any,
) -> tuple[Job, bool]:
    """`pixels_of(image_id, model)`: the uploaded image as the model sees it (3, S, S)."""
    request = parse_params(BreakdownRequest, values, "concept breakdown")
    name, model = _model(models, settings, request.model)
    check_layers(model, [request.layer])
    if request.target is not None and request.target >= model.num_classes:
        raise BadTarget(f"class {request.target} is out of range 0-{model.num_classes - 1}")
    pixels: torch.Tensor = pixels_of(request.image_id, model)
    described = request.model_dump(mode="json") | {"model": name}

    def work(progress: Progress) -> dict[str, Any]:
        result = breakdown(models.get(name), pixels, request.layer, request.target, request.top)
        result["image_id"] = request.image_id
        progress(1, 1)
        return result

    key = (
        f"concept_breakdown:{name}:{request.image_id}:{request.layer}:{request.target}:"
        f"{request.top}"
    )
    return jobs.submit("concept_breakdown", key, described, work)


def start_tcav(
    settings: Settings, jobs: JobQueue, models: ModelPool, values: dict[str, Any]
) -> tuple[Job, bool]:
    request = parse_params(TcavRequest, values, "tcav")
    name, model = _model(models, settings, request.model)
    check_layers(model, request.layers)
    if request.target >= model.num_classes:
        raise BadTarget(f"class {request.target} is out of range 0-{model.num_classes - 1}")
    sets = [_resolve(settings, s) for s in [request.concept, *request.randoms, request.inputs]]
    if len({*request.randoms, request.concept}) != len(request.randoms) + 1:
        raise BadParameter("the concept and random sets must all differ")
    described = request.model_dump(mode="json") | {"model": name}

    def work(progress: Progress) -> dict[str, Any]:
        model = models.get(name)

        def load(source: str, count: int) -> torch.Tensor:
            return concept_set(source, model, settings, count)

        concept = ConceptSet(request.concept, load(sets[0], request.count))
        randoms = [
            ConceptSet(label, load(source, request.count))
            for label, source in zip(request.randoms, sets[1:-1], strict=True)
        ]
        inputs = load(sets[-1], 200)
        predicted = model.forward_logits(inputs).argmax(dim=1).cpu()
        chosen = inputs[predicted == request.target]
        result = run_tcav(
            model,
            chosen if chosen.shape[0] else inputs,
            request.target,
            concept,
            randoms,
            request.layers,
            request.seed,
            progress,
        )
        result["inputs_from"] = request.inputs
        result["inputs_of_class"] = int(chosen.shape[0])
        return result

    parts = [name, request.concept, ",".join(request.randoms), ",".join(request.layers)]
    parts += [str(request.target), request.inputs, str(request.count), str(request.seed)]
    key = "tcav:" + ":".join(parts)
    return jobs.submit("tcav", key, described, work)
