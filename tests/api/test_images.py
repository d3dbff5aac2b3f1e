"""Uploading images, samples, the model's view, predictions, and every kind of bad input."""

import io
import time

import numpy as np
import pytest
from PIL import Image

from tests.api.helpers import png_bytes, upload
from tests.imaging.test_decode import encode, png_claiming


def test_upload_returns_id_view_and_predictions(client) -> None:
    image = upload(client, png_bytes(64, 48), name="cat.png")
    assert image["name"] == "cat.png" and (image["width"], image["height"]) == (64, 48)
    assert image["model"] == "tiny"
    probabilities = [p["probability"] for p in image["predictions"]]
    assert len(probabilities) == 5 and probabilities == sorted(probabilities, reverse=True)
    assert image["predictions"][0]["label"].startswith("class ")
    view = client.get(image["view_url"])
    assert view.status_code == 200 and view.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(view.content)).size == (32, 32)  # after resize and crop
    # The same bytes give the same id; more predictions on request.
    again = client.post("/api/images?top=10", files={"file": ("x.png", png_bytes(64, 48))})
    assert again.json()["id"] == image["id"] and len(again.json()["predictions"]) == 10


def test_predictions_match_the_model(client, tiny_model) -> None:
    image = upload(client)
    decoded = Image.open(io.BytesIO(png_bytes())).convert("RGB")
    pixels = tiny_model.preprocessing.model_view(decoded).unsqueeze(0)
    probs = tiny_model.probabilities(pixels)[0].numpy()
    top = image["predictions"][0]
    assert top["index"] == int(np.argmax(probs))
    assert top["probability"] == pytest.approx(float(probs.max()), rel=1e-5)


def test_samples(client) -> None:
    samples = client.get("/api/samples").json()
    assert [s["name"] for s in samples] == ["chelsea", "coffee", "astronaut", "rocket", "camera"]
    assert all(s["caption"] for s in samples)
    thumbnail = client.get(samples[0]["thumbnail_url"])
    assert (
        thumbnail.status_code == 200 and max(Image.open(io.BytesIO(thumbnail.content)).size) <= 160
    )
    created = client.post("/api/images/samples/chelsea")
    assert created.status_code == 201 and created.json()["name"] == "chelsea"
    assert client.get(f"/api/images/{created.json()['id']}").status_code == 200


@pytest.mark.parametrize(
    ("content", "status", "words"),
    [
        (b"just some text, not an image", 415, "not an image"),
        (
            b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>",
            415,
            "not an image",
        ),
        (b"", 422, "empty"),
        (png_bytes()[:60], 422, "truncated"),
        (png_claiming(20_000, 20_000), 413, "pixels"),
        (png_bytes(600, 600), 413, "bytes"),  # over the test's 200 kB limit
    ],
    ids=["text", "svg", "empty", "truncated", "pixel-bomb", "too-many-bytes"],
)
def test_bad_uploads_get_a_clear_4xx_and_the_server_keeps_serving(
    client, content, status, words
) -> None:
    started = time.monotonic()
    response = client.post("/api/images", files={"file": ("bad.png", content)})
    assert response.status_code == status, response.text
    assert words in response.json()["detail"]
    assert time.monotonic() - started < 5  # refused, not decoded
    assert client.get("/api/models").status_code == 200


def test_disallowed_format_is_named(client) -> None:
    ico = encode(Image.new("RGB", (16, 16)), "ICO")
    response = client.post("/api/images", files={"file": ("icon.png", ico)})
    assert response.status_code == 415 and "ICO" in response.json()["detail"]


def test_unknown_things_are_404(client) -> None:
    assert client.get("/api/images/nope").status_code == 404
    assert "upload it again" in client.get("/api/images/nope").json()["detail"]
    assert client.post("/api/images/samples/dog").status_code == 422
    image = upload(client)
    response = client.get(f"/api/images/{image['id']}?model=no-such-model")
    assert response.status_code == 404 and "unknown model" in response.json()["detail"]


def test_missing_file_field_is_a_readable_422(client) -> None:
    response = client.post("/api/images", data={"other": "x"})
    assert response.status_code == 422 and response.json()["detail"] == "file: Field required"


def test_catalog(client) -> None:
    models = client.get("/api/models").json()
    assert (
        models[0].items()
        >= {
            "name": "tiny",
            "description": "test model",
            "default": True,
            "loaded": True,
            "weights": "built in",
            "group": "built-in",
        }.items()
    )
    assert any(m["name"] == "efficientnet-lite0" for m in models)
    assert client.get("/api/models/tiny/classes").json()[3] == "class 3"
    assert len(client.get("/api/models/efficientnet-lite0/classes").json()) == 1000
    methods = client.get("/api/methods").json()
    by_name = {m["name"]: m for m in methods}
    panel = [m["name"] for m in methods if m["in_default_panel"]]
    assert panel == ["occlusion", "saliency", "guided_backprop", "grad_cam", "kernel_shap"]
    assert by_name["occlusion"]["parameters"]["properties"]["window"]["default"] == 32
    assert by_name["grad_cam"]["parameters"]["properties"]["layer"]["x-suggest"] == "layers"
    assert client.get("/api/models/tiny/layers").json() == ["head", "conv3", "conv2", "conv1"]
    assert client.get("/api/models/nope/layers").status_code == 404
    attacks = {a["name"]: a for a in client.get("/api/attacks").json()}
    assert attacks["targeted"]["needs_target"] and not attacks["fgsm"]["needs_target"]
