"""The concept engine over HTTP: an index job the explorer's GETs then read, a breakdown of an
uploaded image, TCAV; bad requests refused before a job is queued."""

from tests.api.helpers import png_bytes, upload, wait_job


def _done(client, response):
    assert response.status_code == 201, response.text
    view = wait_job(client, response.json()["id"], timeout=120)
    assert view["status"] == "done", view.get("error")
    return view["result"]


def test_index_then_read_it_back(client) -> None:
    body = {"data": "shapes:6", "layers": ["conv1", "conv2"], "top": 2}
    result = _done(client, client.post("/api/concepts/index", json=body))
    assert result["images"] == 6
    assert result["layers"]["conv1"] == {"channels": 8, "tapped_as": "activation"}
    index = client.get("/api/concepts/index", params={"model": "tiny"}).json()
    assert index["data"] == "shapes:6" and len(index["layers"]["conv2"]["exemplars"]["0"]) == 2
    channel = client.get(
        "/api/concepts/channel", params={"model": "tiny", "layer": "conv2", "channel": 3}
    ).json()
    assert sum(channel["histogram"]["counts"]) == 6
    crop = client.get(
        "/api/concepts/crop.png",
        params={"model": "tiny", "layer": "conv2", "channel": 3, "rank": 1},
    )
    assert crop.status_code == 200 and crop.content.startswith(b"\x89PNG")


def test_breakdown_and_tcav(client) -> None:
    image = upload(client, png_bytes())["id"]
    body = {"image_id": image, "layer": "conv3", "target": 2, "top": 3}
    result = _done(client, client.post("/api/concepts/breakdown", json=body))
    assert result["class"] == 2 and len(result["channels"]) == 3
    assert len(result["channels"][0]["heatmap"]) == 16  # conv3: 16 × 16 on a 32-px input
    body = {
        "concept": "texture:stripes",
        "randoms": ["noise:1", "noise:2", "noise:3"],
        "layers": ["conv3"],
        "target": 1,
        "inputs": "shapes:4",
        "count": 4,
    }
    result = _done(client, client.post("/api/concepts/tcav", json=body))
    layer = result["layers"]["conv3"]
    assert len(layer["concept_scores"]) == 3 and len(layer["random_scores"]) == 3
    assert result["label"] == "class 1"


def test_bad_requests_are_refused_before_a_job(client) -> None:
    bad = [
        ("/api/concepts/index", {"data": "shapes:4", "layers": ["nope"]}),
        ("/api/concepts/index", {"data": "/etc", "layers": ["conv1"]}),
        ("/api/concepts/index", {"data": "dataset:0123456789abcdef", "layers": ["conv1"]}),
        (
            "/api/concepts/tcav",
            {"concept": "texture:dots", "randoms": ["noise:1"], "layers": ["conv3"], "target": 99},
        ),
        (
            "/api/concepts/tcav",
            {"concept": "noise:1", "randoms": ["noise:1"], "layers": ["conv3"], "target": 1},
        ),
        ("/api/concepts/breakdown", {"image_id": "nope", "layer": "conv3"}),
    ]
    for path, body in bad:
        response = client.post(path, json=body)
        assert 400 <= response.status_code < 500, (path, body, response.text)
    assert client.app.state.workspace.jobs.active() == 0  # type: ignore[attr-defined]
