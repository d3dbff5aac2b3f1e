"""The compression lab over HTTP, on the tiny model: recipes, evaluation sets, runs as jobs,
and the saved report, files and maps; bad requests get a 4xx naming the problem."""

import io

from PIL import Image

from app.compress import RECIPES
from tests.api.helpers import png_bytes, upload, wait_job, zip_bytes

QUICK = {
    "variants": [
        {"recipe": "int8_static", "params": {"per_channel": False}},
        {"recipe": "prune_channels"},
    ],
    "methods": ["saliency", "grad_cam"],
    "drift_images": 1,
    "augmentations": 1,
    "calibration_augmentations": 2,
    "latency_repeats": 3,
}


def test_recipes_options_and_layers_are_listed(client) -> None:
    recipes = client.get("/api/compress/recipes").json()
    assert [r["name"] for r in recipes] == RECIPES.names()
    static = next(r for r in recipes if r["name"] == "int8_static")
    assert static["params_schema"]["properties"]["calibration"]["enum"] == [
        "minmax",
        "percentile",
        "entropy",
    ]
    assert "ONNX Runtime" in static["description"]
    options = client.get("/api/compress/run-params").json()
    assert options["defaults"]["methods"] == ["occlusion", "saliency", "grad_cam"]
    assert len(options["defaults"]["variants"]) == 4
    assert client.get("/api/compress/layers").json()[:2] == ["network.conv1", "network.conv2"]
    assert client.get("/api/compress/layers?model=nope").status_code == 404


def test_a_run_is_a_job_whose_report_files_and_maps_can_be_read(client) -> None:
    image = upload(client, png_bytes(64, 48))
    started = client.post("/api/compress/runs", json={"image_id": image["id"], "params": QUICK})
    assert started.status_code == 201, started.text
    job = wait_job(client, started.json()["id"], timeout=120)
    assert job["status"] == "done", job["error"]
    assert job["kind"] == "compress"
    run = job["result"]
    assert [row["name"] for row in run["rows"]] == [
        "original",
        "int8_static (per_channel=False)",
        "prune_channels",
    ]
    assert run["rows"][0]["top1_agreement"] == 1.0 and run["image_id"] == image["id"]
    assert run["rows"][2]["parameters"] < run["rows"][0]["parameters"]
    assert client.get("/api/compress/runs").json()[0]["id"] == run["id"]
    report = client.get(f"/api/compress/runs/{run['id']}")
    assert report.status_code == 200 and report.json() == run
    file = client.get(f"/api/compress/runs/{run['id']}/files/{run['rows'][1]['file']}")
    assert file.status_code == 200 and file.headers["content-type"] == "application/octet-stream"
    assert len(file.content) == run["rows"][1]["size_bytes"]
    picture = client.get(f"/api/compress/runs/{run['id']}/maps/2/grad_cam.png?opacity=0.3")
    assert picture.status_code == 200
    assert Image.open(io.BytesIO(picture.content)).size == (32, 32)
    again = client.post("/api/compress/runs", json={"image_id": image["id"], "params": QUICK})
    assert again.status_code == 200 and again.json()["reused"]


def test_bad_compression_requests(client) -> None:
    def detail(response, status):
        assert response.status_code == status, response.text
        return response.json()["detail"]

    assert "zip_it" in detail(
        client.post("/api/compress/runs", json={"params": {"variants": [{"recipe": "zip_it"}]}}),
        404,
    )
    assert "sparsity" in detail(
        client.post(
            "/api/compress/runs",
            json={
                "params": {"variants": [{"recipe": "prune_magnitude", "params": {"sparsity": -1}}]}
            },
        ),
        422,
    )
    assert "magic" in detail(
        client.post("/api/compress/runs", json={"params": {"methods": ["magic"]}}), 404
    )
    assert "layer" in detail(
        client.post("/api/compress/runs", json={"params": {"histogram_layer": "x"}}), 422
    )
    assert "evaluation set" in detail(
        client.post("/api/compress/runs", json={"dataset": "0123456789abcdef"}), 404
    )
    detail(client.post("/api/compress/runs", json={"image_id": "nope"}), 404)
    detail(client.get("/api/compress/runs/0123456789ab"), 404)
    detail(client.get("/api/compress/runs/../../x"), 404)
    detail(client.get("/api/compress/runs/0123456789ab/files/0-original.onnx"), 404)
    detail(client.get("/api/compress/runs/0123456789ab/maps/0/saliency.png"), 404)
    assert client.get("/healthz").status_code == 200  # still serving


def test_evaluation_sets_are_uploaded_checked_and_used(client) -> None:
    archive = zip_bytes(
        {
            "class 1/a.png": png_bytes(40, 40, 1),
            "class 1/b.png": png_bytes(40, 40, 2),
            "2/c.png": png_bytes(40, 40, 3),
        }
    )
    created = client.post(
        "/api/compress/datasets", files={"file": ("set.zip", archive, "application/zip")}
    )
    assert created.status_code == 201, created.text
    dataset = created.json()
    assert dataset["images"] == 3 and dataset["labelled"] and dataset["classes"] == ["2", "class 1"]
    params = {**QUICK, "variants": [{"recipe": "half_precision"}], "methods": []}
    job = wait_job(
        client,
        client.post("/api/compress/runs", json={"dataset": dataset["id"], "params": params}).json()[
            "id"
        ],
        timeout=120,
    )
    assert job["status"] == "done", job["error"]
    assert job["result"]["evaluation"]["labelled"] and job["result"]["evaluation"]["images"] == 6
    assert job["result"]["rows"][1]["accuracy"] is not None
    bad = client.post(
        "/api/compress/datasets", files={"file": ("set.zip", b"not a zip", "application/zip")}
    )
    assert bad.status_code == 422 and "not a zip" in bad.json()["detail"]
    hostile = client.post(
        "/api/compress/datasets",
        files={"file": ("set.zip", zip_bytes({"x.png": b"MZ\x90\x00"}), "application/zip")},
    )
    assert hostile.status_code == 415 and "x.png" in hostile.json()["detail"]
