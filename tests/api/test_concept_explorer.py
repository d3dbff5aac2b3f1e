"""The concept explorer's API: the stored index read back (index, a channel, its crops, also for a
model name with '/'), feature visualisation jobs whose image is served and cached (also across a
restart), a channel's map on an image; bad requests refused before a job is queued."""

import io

from fastapi.testclient import TestClient
from PIL import Image

from app.concepts.index import build_index, index_folder, write_index
from app.main import create_app
from app.settings import Settings
from app.zoo import LoadedModel, load_model
from app.zoo.pool import ModelPool
from tests.api.helpers import png_bytes, upload, wait_job
from tests.models import tiny_pixels

_BODY = {"layer": "conv2", "channel": 3, "size": 32, "steps": 3, "jitter": 2}


def test_a_visualisation_job_its_image_and_its_cache(
    client: TestClient, api_settings: Settings, tiny_model: LoadedModel
) -> None:
    started = client.post("/api/concepts/visualisations", json=_BODY)
    assert started.status_code == 201, started.text
    view = wait_job(client, started.json()["id"])
    assert view["status"] == "done" and view["kind"] == "feature_visualisation"
    result = view["result"]
    assert (result["steps"], result["size"], result["layer"], result["channel"]) == (
        3,
        32,
        "conv2",
        3,
    )
    assert result["seconds"] > 0 and not result["cached"] and view["progress"] == 1.0
    image = client.get(result["image_url"])
    assert image.status_code == 200 and image.content.startswith(b"\x89PNG")
    again = client.post("/api/concepts/visualisations", json=_BODY)
    assert again.status_code == 200 and again.json()["reused"]

    # a new server on the same data directory answers with the stored job, image included
    pool = ModelPool(api_settings, load_model, preloaded=[tiny_model])
    with TestClient(create_app(api_settings, pool)) as restarted:
        answer = restarted.post("/api/concepts/visualisations", json=_BODY)
        assert answer.status_code == 200 and answer.json()["result"] == result
        assert restarted.get(result["image_url"]).content == image.content


def test_bad_requests_are_refused(client: TestClient) -> None:
    for body, status in (
        ({**_BODY, "channel": 99}, 422),
        ({**_BODY, "layer": "nowhere"}, 422),
        ({**_BODY, "steps": 0}, 422),
        ({**_BODY, "unknown": 1}, 422),
        ({**_BODY, "model": "no-such-model"}, 404),
    ):
        response = client.post("/api/concepts/visualisations", json=body)
        assert response.status_code == status, (body, response.text)
    assert (
        client.get("/api/concepts/visualisations/0123456789abcdef01234567.png").status_code == 404
    )
    assert client.get("/api/concepts/visualisations/..%2Fsecret.png").status_code == 404


def test_a_channel_map_on_an_uploaded_image(client: TestClient) -> None:
    image = upload(client, png_bytes())["id"]
    query = {"image_id": image, "layer": "conv2", "channel": 3}
    response = client.get("/api/concepts/channel-map.png", params=query)
    assert response.status_code == 200 and response.content.startswith(b"\x89PNG")
    with Image.open(io.BytesIO(response.content)) as picture:
        assert picture.width == 32 and picture.height > 32  # the colour bar under the map
    bare = client.get("/api/concepts/channel-map.png", params={**query, "legend": "false"})
    with Image.open(io.BytesIO(bare.content)) as picture:
        assert picture.size == (32, 32)
    for bad, status in (({"channel": 16}, 422), ({"layer": "x"}, 422), ({"image_id": "no"}, 404)):
        assert (
            client.get("/api/concepts/channel-map.png", params={**query, **bad}).status_code
            == status
        )


def test_the_stored_index_read_back(
    client: TestClient, api_settings: Settings, tiny_model: LoadedModel
) -> None:
    images = [(f"image {seed}", tiny_pixels(seed)) for seed in range(5)]
    index = build_index(tiny_model, images, ["conv2"], top=3, data="test images")
    for name in ("tiny", "shapes/teacher"):  # stored under a file-safe name, read by its own
        write_index(index, index_folder(api_settings, name))
        read = client.get("/api/concepts/index", params={"model": name})
        assert read.status_code == 200 and read.json()["layers"]["conv2"]["channels"] == 16
    query = {"model": "shapes/teacher", "layer": "conv2", "channel": 7}
    details = client.get("/api/concepts/channel", params=query).json()
    assert details["exemplars"] == index["layers"]["conv2"]["exemplars"]["7"]
    assert len(details["exemplars"]) == 3 and sum(details["histogram"]["counts"]) == 5
    crop = client.get("/api/concepts/crop.png", params={**query, "rank": 2})
    assert crop.status_code == 200 and crop.content.startswith(b"\x89PNG")
    for bad in ({"rank": 3}, {"channel": 16, "rank": 0}, {"layer": "conv1", "rank": 0}):
        assert client.get("/api/concepts/crop.png", params={**query, **bad}).status_code == 404
    assert client.get("/api/concepts/channel", params={**query, "channel": 16}).status_code == 404
    assert client.get("/api/concepts/index", params={"model": "other"}).status_code == 404


def test_a_class_visualisation(client: TestClient) -> None:
    body = {"target": 3, "size": 32, "steps": 2}
    started = client.post("/api/concepts/visualisations", json=body)
    view = wait_job(client, started.json()["id"])
    assert view["status"] == "done", view["error"]
    result = view["result"]
    assert (result["target"], result["target_label"], result["layer"]) == (3, "class 3", None)
    assert client.get(result["image_url"]).status_code == 200
