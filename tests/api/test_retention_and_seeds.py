"""Issue 19: uploaded datasets have a retention limit (M3); seeds out of the generators' range are
refused with 422 at the request, not ended as 'internal error' in the job (low)."""

import io

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from app.main import create_app
from app.params import MAX_SEED
from app.settings import Settings
from app.zoo import LoadedModel, load_model
from app.zoo.pool import ModelPool
from tests.api.helpers import upload, wait_job, zip_bytes


def _dataset(colour: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (colour, 0, 0)).save(buffer, format="PNG")
    return zip_bytes({"a.png": buffer.getvalue()})


def test_only_the_most_recent_datasets_are_kept(
    api_settings: Settings, tiny_model: LoadedModel
) -> None:
    settings = Settings(**{**api_settings.model_dump(), "kept_datasets": 2})
    pool = ModelPool(settings, load_model, preloaded=[tiny_model])
    with TestClient(create_app(settings, pool)) as client:

        def store(colour: int) -> str:
            files = {"file": ("set.zip", _dataset(colour), "application/zip")}
            response = client.post("/api/compress/datasets", files=files)
            assert response.status_code == 201, response.text
            return str(response.json()["id"])

        first, second = store(1), store(2)
        assert store(1) == first  # uploaded again: now the most recent
        third = store(3)  # drops `second`, the least recently used
        folder = settings.data_dir / "compress" / "datasets"
        assert sorted(p.stem for p in folder.glob("*.zip")) == sorted([first, third])
        gone = client.post("/api/compress/runs", json={"dataset": second})
        assert gone.status_code == 404 and "upload a zip first" in gone.json()["detail"]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/explanations", {"method": "gradient_shap", "params": {"seed": 2**70}}),
        ("/api/explanations", {"method": "kernel_shap", "params": {"seed": 2**64}}),
        ("/api/attacks", {"method": "pgd", "params": {"seed": MAX_SEED + 1}}),
        ("/api/sanity", {"method": "saliency", "seed": 2**70}),
        ("/api/faithfulness", {"method": "saliency", "seed": 2**70}),
        ("/api/compress/runs", {"params": {"seed": 2**70}}),
        ("/api/lab/experiments/transfer", {"seed": 2**70}),
    ],
)
def test_unbounded_seeds_are_refused_with_422(client: TestClient, path: str, body: dict) -> None:
    image_id = upload(client)["id"]
    if "method" in body:
        body = {"image_id": image_id, **body}
    response = client.post(path, json=body)
    assert response.status_code == 422, response.text
    assert "seed" in response.json()["detail"]


def test_the_largest_seed_runs(client: TestClient) -> None:
    image_id = upload(client)["id"]
    body = {"image_id": image_id, "method": "gradient_shap", "params": {"seed": MAX_SEED}}
    response = client.post("/api/explanations", json=body)
    assert response.status_code == 201, response.text
    assert wait_job(client, response.json()["id"])["status"] == "done"
