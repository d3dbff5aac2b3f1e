"""The sanity job of a Shapes student also runs the data randomisation test against the lab's
bogus model (shapes/random-labels) once it exists: the same similarities as the Python API on
the same image; other models, and students before the bogus model, get none."""

import io

import pytest
import torch
from PIL import Image

from app.settings import Settings
from app.shapes.networks import ShapesStudent
from app.shapes.storage import load_trained, save_model
from app.trust import data_randomization_test
from tests.api.helpers import png_bytes, wait_job


def _sanity(client, model: str) -> dict:
    upload = client.post(f"/api/images?model={model}", files={"file": ("a.png", png_bytes())})
    assert upload.status_code == 201, upload.text
    body = {"image_id": upload.json()["id"], "model": model, "method": "saliency", "steps": 2}
    response = client.post("/api/sanity", json=body)
    assert response.status_code == 201, response.text
    view = wait_job(client, response.json()["id"], timeout=60)
    assert view["status"] == "done", view["error"]
    return view["result"]


def test_a_students_sanity_check_compares_it_with_the_bogus_model(
    client, api_settings: Settings
) -> None:
    assert _sanity(client, "tiny")["data_randomization"] is None  # not a lab student
    torch.manual_seed(0)
    save_model(api_settings, "student", ShapesStudent(4).eval())
    assert _sanity(client, "shapes/student")["data_randomization"] is None  # no bogus model yet
    save_model(api_settings, "random-labels", ShapesStudent(4).eval())
    found = _sanity(client, "shapes/student")["data_randomization"]
    assert found["random_labels_model"] == "shapes/random-labels"
    student = load_trained(api_settings, "student")
    bogus = load_trained(api_settings, "random-labels")
    pixels = student.preprocessing.model_view(Image.open(io.BytesIO(png_bytes())).convert("RGB"))
    expected = data_randomization_test(student, bogus, pixels, "saliency", found["target"])
    for metric, value in expected["similarity"].items():
        assert found["similarity"][metric] == pytest.approx(value, abs=1e-6)
    assert found["random_labels_target"] == expected["random_labels_target"]
