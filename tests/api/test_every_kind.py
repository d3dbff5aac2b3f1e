"""One real result of every job kind survives a restart: run each kind through the HTTP API, start
a new server on the same data directory, and read every result back unchanged.

Driven by the registries: a new job kind, lab experiment or result type that this test does not
produce fails it, so nothing registered can be silently unstorable (as `Recovery` once was).
"""

import dataclasses
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.jobs.kinds import JOB_KINDS
from app.main import create_app
from app.results import RESULT_TYPES
from app.settings import Settings
from app.shapes import EXPERIMENTS
from app.zoo import LoadedModel, load_model
from app.zoo.pool import ModelPool
from tests.api.helpers import png_bytes, upload, wait_job, zip_bytes
from tests.jobs.test_store import _equal

# The smallest real run of each experiment, in an order that satisfies their `needs`.
_EXPERIMENTS = {
    "transfer": {"modes": ["head"], "head_epochs": 1, "train_images": 10, "test_images": 10},
    "distill": {"epochs": 1, "train_images": 10, "test_images": 10, "width": 4},
    "evaluate": {"methods": ["saliency"], "images": 2},
    "fewshot": {"shots": 1, "test_images": 10, "size": 32},
    "distill_transfer": {
        "epochs": 1,
        "train_images": 10,
        "test_images": 10,
        "width": 4,
        "seeds": 1,
        "transfer_images": 10,
        "soft_loss": "logits",
    },
    "noise_robustness": {
        "epochs": 1,
        "train_images": 10,
        "test_images": 10,
        "width": 4,
        "seeds": 1,
        "epsilons": [8],
        "pgd_steps": 1,
    },
    "calibration": {"epochs": 1, "train_images": 10, "test_images": 10, "width": 4, "seeds": 1},
    "random_labels": {
        "epochs": 1,
        "train_images": 10,
        "test_images": 10,
        "width": 4,
        "seeds": 1,
        "methods": ["saliency"],
        "images": 1,
    },
}
_COMPRESSION = {
    "variants": [{"recipe": "prune_magnitude", "params": {"recovery_epochs": 1}}],
    "methods": ["saliency"],
    "drift_images": 1,
    "augmentations": 1,
    "calibration_augmentations": 2,
    "latency_repeats": 3,
    "sensitivity_sparsity": 0.5,
}

_VISUALISATION = {"layer": "conv2", "channel": 0, "size": 32, "steps": 2}
_CONCEPT_INDEX = {"data": "shapes:3", "layers": ["conv2"], "top": 1}
_TCAV = {
    "concept": "texture:dots",
    "randoms": ["noise:1", "noise:2"],
    "layers": ["conv3"],
    "target": 1,
    "inputs": "shapes:2",
    "count": 3,
}


def _started(response: Any) -> str:
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _run_every_kind(client: TestClient) -> dict[str, list[str]]:
    """Job ids by kind, one or more finished jobs of each."""
    image = upload(client, png_bytes())["id"]
    subject = {"image_id": image, "method": "saliency", "target": 1}
    ids = {
        "explanation": [_started(client.post("/api/explanations", json=subject))],
        "attack": [_started(client.post("/api/attacks", json={**subject, "method": "fgsm"}))],
        "sanity": [_started(client.post("/api/sanity", json={**subject, "steps": 2}))],
        "faithfulness": [_started(client.post("/api/faithfulness", json={**subject, "steps": 4}))],
        "feature_visualisation": [
            _started(client.post("/api/concepts/visualisations", json=_VISUALISATION))
        ],
        "lab": [],
        "compress": [],
        "fewshot": [],
    }
    for job_ids in ids.values():
        for job_id in job_ids:
            assert wait_job(client, job_id, timeout=120)["status"] == "done"
    concept_jobs = {  # one at a time: the queue above is full
        "concept_index": ("index", _CONCEPT_INDEX),
        "concept_breakdown": ("breakdown", {"image_id": image, "layer": "conv3"}),
        "tcav": ("tcav", _TCAV),
    }
    for kind, (path, body) in concept_jobs.items():
        job_id = _started(client.post(f"/api/concepts/{path}", json=body))
        assert wait_job(client, job_id, timeout=120)["status"] == "done", kind
        ids[kind] = [job_id]
    for name, params in _EXPERIMENTS.items():
        job_id = _started(client.post(f"/api/lab/experiments/{name}", json=params))
        view = wait_job(client, job_id, timeout=300)
        assert view["status"] == "done", (name, view["error"])
        ids["lab"].append(job_id)
    examples = [upload(client, png_bytes(seed=s), f"{s}.png")["id"] for s in (1, 2, 3, 4)]
    labelled = [{"image_id": i, "label": "ab"[n % 2]} for n, i in enumerate(examples)]
    fewshot = client.post("/api/lab/fewshot", json={"examples": labelled, "queries": [image]})
    assert fewshot.status_code == 200, fewshot.text
    ids["fewshot"] = [fewshot.headers["X-Lantern-Job"]]
    body = {"image_id": image, "params": _COMPRESSION}
    job_id = _started(client.post("/api/compress/runs", json=body))
    view = wait_job(client, job_id, timeout=300)
    assert view["status"] == "done", view["error"]
    assert view["result"]["rows"][1]["recovery"]["epochs"] == 1
    ids["compress"].append(job_id)
    dataset = client.post(
        "/api/compress/datasets",
        files={"file": ("set.zip", zip_bytes({f"{k}.png": png_bytes(seed=k) for k in range(4)}))},
    )
    assert dataset.status_code == 201, dataset.text
    body = {"dataset": dataset.json()["id"], "engine": "plain", "methods": ["saliency"]}
    job_id = _started(client.post("/api/audits", json=body))
    view = wait_job(client, job_id, timeout=120)
    assert view["status"] == "done", view["error"]
    ids["audit"] = [job_id]
    return ids


def _type_names(value: Any) -> Iterator[str]:
    """Every dataclass type in a result, nested ones included."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        yield type(value).__name__
        for field in dataclasses.fields(value):
            yield from _type_names(getattr(value, field.name))
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _type_names(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _type_names(item)


def test_a_result_of_every_kind_survives_a_restart(
    api_settings: Settings, tiny_model: LoadedModel
) -> None:
    settings = api_settings.model_copy(update={"max_queued_jobs": 4})

    def server() -> TestClient:
        pool = ModelPool(settings, load_model, preloaded=[tiny_model])
        return TestClient(create_app(settings, pool))

    with server() as client:
        ids = _run_every_kind(client)
        before = {
            job_id: client.get(f"/api/jobs/{job_id}").json() for v in ids.values() for job_id in v
        }
        originals = {
            job_id: client.app.state.workspace.jobs.get(job_id).result for job_id in before
        }  # type: ignore[attr-defined]

    assert set(ids) == set(JOB_KINDS.names()), "a job kind has no example in this test"
    assert list(_EXPERIMENTS) == EXPERIMENTS.names(), "an experiment has no example in this test"
    seen = {name for result in originals.values() for name in _type_names(result)}
    assert seen >= set(RESULT_TYPES.names()) - {"StoredImage"}, "a result type is never stored"

    with server() as restarted:  # a new process would see the same: the data dir is all it has
        workspace = restarted.app.state.workspace  # type: ignore[attr-defined]
        for job_id, view in before.items():
            response = restarted.get(f"/api/jobs/{job_id}")
            assert response.status_code == 200, (view["kind"], response.text)
            again = response.json()
            assert again["status"] == "done" and again["result"] == view["result"], view["kind"]
            _equal(originals[job_id], workspace.jobs.get(job_id).result)
        overlay = restarted.get(ids["explanation"][0].join(["/api/jobs/", "/overlay.png"]))
        assert overlay.status_code == 200


def test_the_equality_helper_can_fail() -> None:
    with pytest.raises(AssertionError):
        _equal({"a": np.zeros(2)}, {"a": np.ones(2)})
