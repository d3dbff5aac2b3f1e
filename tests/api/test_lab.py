"""The Shapes lab over HTTP: experiments as jobs, saved reports, few-shot from uploads."""

import io

from PIL import Image

from app.shapes import EXPERIMENTS
from tests.api.helpers import solid_png, upload, wait_job


def test_experiments_are_listed_with_their_parameters(client) -> None:
    experiments = {e["name"]: e for e in client.get("/api/lab/experiments").json()}
    assert list(experiments) == EXPERIMENTS.names()  # the registry's order
    assert list(experiments)[:4] == ["transfer", "distill", "evaluate", "fewshot"]
    modes = experiments["transfer"]["params_schema"]["properties"]["modes"]
    assert modes["default"] == ["head", "last_blocks", "finetune", "scratch"]
    methods = experiments["evaluate"]["params_schema"]["properties"]["methods"]
    assert "grad_cam" in methods["items"]["enum"]
    assert client.get("/api/lab/reports").json() == dict.fromkeys(experiments)
    preview = client.get("/api/lab/preview.png")
    assert preview.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(preview.content)).size == (64 * 10 * 2, 64 * 2 * 2)


def test_bad_experiment_requests(client) -> None:
    assert client.post("/api/lab/experiments/nope", json={}).status_code == 404
    bad = client.post("/api/lab/experiments/fewshot", json={"shots": 0})
    assert bad.status_code == 422 and "shots" in bad.json()["detail"]
    unknown = client.post("/api/lab/experiments/evaluate", json={"methods": ["magic"]})
    assert unknown.status_code == 404 and "magic" in unknown.json()["detail"]


def test_distill_before_any_teacher_fails_with_a_message(client) -> None:
    started = client.post("/api/lab/experiments/distill", json={"epochs": 1})
    assert started.status_code == 201
    job = wait_job(client, started.json()["id"])
    assert job["status"] == "failed" and "no Shapes teacher yet" in job["error"]
    assert job["error_status"] == 422


def test_fewshot_experiment_runs_as_a_job_and_is_saved(client) -> None:
    params = {"shots": 1, "test_images": 10}
    started = client.post("/api/lab/experiments/fewshot", json=params)
    job = wait_job(client, started.json()["id"])
    assert job["status"] == "done", job["error"]
    assert job["kind"] == "lab" and 0 <= job["result"]["test_accuracy"] <= 1
    assert job["result"]["model"] == "tiny"
    assert client.get("/api/lab/reports").json()["fewshot"] == job["result"]
    again = client.post("/api/lab/experiments/fewshot", json=params)
    assert again.status_code == 200 and again.json()["reused"]


def test_few_shot_from_uploaded_examples(client) -> None:
    reds = [
        upload(client, solid_png((220, 30, 30), seed), f"red{seed}.png")["id"] for seed in range(3)
    ]
    blues = [
        upload(client, solid_png((30, 30, 220), seed + 9), "blue.png")["id"] for seed in range(3)
    ]
    examples = [{"image_id": i, "label": "red"} for i in reds]
    examples += [{"image_id": i, "label": "blue"} for i in blues]
    query = upload(client, solid_png((200, 40, 40), 99), "query.png")["id"]
    response = client.post(
        "/api/lab/fewshot", json={"examples": examples, "queries": [query], "k": 3}
    )
    assert response.status_code == 200, response.text
    [prediction] = response.json()
    assert prediction["label"] == "red" and prediction["image_id"] == query
    assert [n["label"] for n in prediction["neighbours"]] == ["red"] * 3
    one_class = client.post("/api/lab/fewshot", json={"examples": examples[:3], "queries": [query]})
    assert one_class.status_code == 422 and "two classes" in one_class.json()["detail"]
    missing = client.post("/api/lab/fewshot", json={"examples": examples, "queries": ["nope"]})
    assert missing.status_code == 404


def test_the_lab_page_renders(client) -> None:
    page = client.get("/lab")
    assert page.status_code == 200 and "Shapes lab" in page.text
    assert '<script type="module" src="/static/js/lab.js">' in page.text
