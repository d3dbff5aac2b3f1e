"""A user's own model through the API: uploaded (safetensors, a weights-only torch file), listed
under "yours", explained, refused when hostile or not fitting (naming the first tensor), removed;
a deleted compression run's variant and an unknown name are 404s that say what there is."""

import io
import json
import pickle
import shutil
from pathlib import Path

import pytest
import torch
from fastapi.testclient import TestClient
from safetensors.torch import save
from torchvision.models import squeezenet1_1

from app.settings import Settings
from tests.api.helpers import run_explanation, wait_job

ARCHITECTURE = "torchvision/squeezenet1_1"


@pytest.fixture(scope="module")
def state() -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    return {k: v.contiguous() for k, v in squeezenet1_1(num_classes=3).state_dict().items()}


def _upload(client: TestClient, name: str, weights: bytes, file: str, labels: bytes | None = None):
    files = {"weights": (file, weights, "application/octet-stream")}
    if labels is not None:
        files["labels"] = ("labels.txt", labels, "text/plain")
    return client.post(
        "/api/models", data={"name": name, "architecture": ARCHITECTURE}, files=files
    )


def _stored(settings: Settings) -> list[str]:
    folder = settings.data_dir / "models"
    return sorted(path.name for path in folder.iterdir()) if folder.is_dir() else []


def test_an_uploaded_state_dict_is_listed_explained_and_removed(
    client: TestClient, api_settings: Settings, state
) -> None:
    response = _upload(
        client, "my-squeeze", save(state), "squeeze.safetensors", b"ant\nbee\nwasp\n"
    )
    assert response.status_code == 201, response.text
    view = response.json()
    assert view["group"] == "yours" and view["classes"] == 3
    assert view["architecture"] == ARCHITECTURE and view["weights"].endswith(
        "(squeeze.safetensors)"
    )
    assert view["parameters"] == sum(
        tensor.numel()
        for key, tensor in state.items()
        if "running" not in key and "num_batches" not in key
    )
    assert _stored(api_settings) == ["my-squeeze.json", "my-squeeze.safetensors"]
    listed = {model["name"]: model for model in client.get("/api/models").json()}
    assert listed["my-squeeze"]["group"] == "yours"
    assert client.get("/api/models/my-squeeze/classes").json() == ["ant", "bee", "wasp"]
    image = client.post("/api/images/samples/chelsea?model=my-squeeze").json()
    assert len(image["predictions"]) == 3
    explained = run_explanation(client, image["id"], "saliency", model="my-squeeze")
    assert explained["status"] == "done", explained
    assert explained["result"]["model"] == "my-squeeze"
    assert client.delete("/api/models/my-squeeze").status_code == 204
    assert _stored(api_settings) == []
    assert "my-squeeze" not in {model["name"] for model in client.get("/api/models").json()}
    gone = client.get("/api/models/my-squeeze/classes")
    assert gone.status_code == 404 and "yours: none yet" in gone.json()["detail"]
    assert client.delete("/api/models/my-squeeze").status_code == 404


def test_a_weights_only_torch_file_is_stored_as_safetensors(
    client: TestClient, api_settings: Settings, state
) -> None:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    assert _upload(client, "pickled", buffer.getvalue(), "squeeze.pth").status_code == 201
    assert _stored(api_settings) == ["pickled.json", "pickled.safetensors"]
    described = json.loads((api_settings.data_dir / "models" / "pickled.json").read_text())
    assert described["labels"] == ["class 0", "class 1", "class 2"]


def test_weights_that_do_not_fit_name_the_first_mismatching_tensor(
    client: TestClient, api_settings: Settings, state
) -> None:
    wrong = dict(state)
    first = "features.3.squeeze.weight"  # squeezenet1_1's first Fire module: 16 × 64 × 1 × 1
    wrong[first] = torch.zeros(8, 64, 1, 1)
    wrong["features.12.expand1x1.weight"] = torch.zeros(1, 1, 1, 1)  # a later one: not named
    response = _upload(client, "wrong", save(wrong), "wrong.safetensors")
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert f"tensor {first}: expected shape (16, 64, 1, 1), got (8, 64, 1, 1)" in detail
    assert "features.12" not in detail
    missing = {k: v for k, v in state.items() if k != "features.0.bias"}
    detail = _upload(client, "wrong", save(missing), "missing.safetensors").json()["detail"]
    assert "tensor features.0.bias (shape (64,)) is missing" in detail
    assert _stored(api_settings) == []  # nothing half-stored


class _Canary:
    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (Path.write_text, (self.path, "pwned"))


def test_hostile_and_bad_uploads_are_refused_and_nothing_is_stored(
    client: TestClient, api_settings: Settings, state, tmp_path
) -> None:
    canary = tmp_path / "canary.txt"
    buffer = io.BytesIO()
    torch.save({"weight": torch.zeros(2), "payload": _Canary(canary)}, buffer)
    for payload, file in (
        (buffer.getvalue(), "hostile.pth"),
        (pickle.dumps(_Canary(canary)), "raw.pt"),
        (b"\xff" * 64, "garbage.safetensors"),
        (save(state), "weights.exe"),
    ):
        response = _upload(client, "hostile", payload, file)
        assert response.status_code == 422, (file, response.text)
    assert not canary.exists()
    cases = [
        ({"name": "../escape", "architecture": ARCHITECTURE}, "model name"),
        ({"name": "efficientnet-lite0", "architecture": ARCHITECTURE}, "built-in model's name"),
        ({"name": "fine", "architecture": "torchvision/nonet"}, "unknown architecture"),
    ]
    for form, message in cases:
        files = {"weights": ("w.safetensors", save(state), "application/octet-stream")}
        response = client.post("/api/models", data=form, files=files)
        assert response.status_code in (404, 422) and message in response.json()["detail"]
    labels = _upload(client, "fine", save(state), "w.safetensors", b"one\ntwo\n")
    assert labels.status_code == 422 and "names 2 classes but the weights have 3" in labels.text
    assert _stored(api_settings) == []


def test_unknown_and_deleted_models_are_404s_that_list_the_groups(client: TestClient) -> None:
    response = client.get("/api/models/efficientnet-lit0/classes")
    assert response.status_code == 404
    detail = response.json()["detail"]
    assert "did you mean efficientnet-lite0" in detail
    for group in ("built-in:", "yours:", "lab:", "compressed:"):
        assert group in detail
    gone = client.get("/api/models/compressed/0123456789ab/1-int8_static/classes")
    assert gone.status_code == 404
    assert "compressed/0123456789ab/1-int8_static" in gone.json()["detail"]
    assert "deleted" in gone.json()["detail"]
    architectures = client.get("/api/architectures").json()
    assert ARCHITECTURE in architectures and "efficientnet-lite0" in architectures


def test_a_compression_runs_variant_is_listed_and_explained_on_its_engine(
    client: TestClient, api_settings: Settings
) -> None:
    params = {
        "variants": [{"recipe": "int8_static", "params": {"calibration_images": 4}}],
        "methods": [],
        "drift_images": 0,
        "augmentations": 0,
        "calibration_augmentations": 1,
        "latency_repeats": 3,
    }
    job = wait_job(
        client, client.post("/api/compress/runs", json={"params": params}).json()["id"], 120
    )
    assert job["status"] == "done", job
    run = job["result"]["id"]
    name = f"compressed/{run}/1-int8_static"
    listed = {model["name"]: model for model in client.get("/api/models").json()}
    assert listed[name]["group"] == "compressed" and listed[name]["engine"] == "ONNX Runtime int8"
    assert "fake-quantized" in listed[name]["gradient_engine"]
    assert listed[name]["architecture"] == "tiny" and listed[name]["classes"] == 10
    image = client.post(f"/api/images/samples/chelsea?model={name}").json()
    for method in ("occlusion", "saliency"):
        explained = run_explanation(
            client,
            image["id"],
            method,
            model=name,
            params={"window": 16} if method == "occlusion" else {},
        )
        assert explained["status"] == "done", explained
        assert explained["result"]["model"] == name
        if method == "occlusion":  # forward passes on the int8 graph itself
            assert explained["result"]["engine"] == "ONNX Runtime int8", explained["result"]
    listed = {model["name"]: model for model in client.get("/api/models").json()}
    assert listed[name]["loaded"] and listed[name]["unsupported"] == {}
    shutil.rmtree(api_settings.data_dir / "compress" / "runs" / run)  # as old runs are forgotten
    gone = client.get(f"/api/models/{name}/classes")
    assert gone.status_code == 404 and name in gone.json()["detail"]
