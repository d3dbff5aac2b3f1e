"""Explanation and attack jobs over HTTP: results equal the Python API's, progress, cancel,
cache hits, rendering, reports, and every bad request."""

import io
import json
import re
import time

import numpy as np
import pytest
import torch
from PIL import Image

from app.attacks import attack
from app.explain import explain
from tests.api.helpers import png_bytes, run_explanation, upload, wait_job


def model_view(tiny_model, content: bytes) -> torch.Tensor:
    return tiny_model.preprocessing.model_view(Image.open(io.BytesIO(content)).convert("RGB"))


def test_explanation_job_equals_explain(client, tiny_model) -> None:
    image = upload(client)
    view = run_explanation(client, image["id"], "saliency", target=3)
    assert view["status"] == "done" and view["progress"] == 1.0 and view["error"] is None
    result = view["result"]
    assert (result["method"], result["target"], result["target_label"]) == (
        "saliency",
        3,
        "class 3",
    )
    assert result["device"] == "cpu" and result["seconds"] > 0 and not result["signed"]
    expected = explain(tiny_model, model_view(tiny_model, png_bytes()), "saliency", target=3)
    served = np.load(io.BytesIO(client.get(result["map_url"]).content))
    np.testing.assert_allclose(served, expected.attribution, rtol=1e-5, atol=1e-8)
    assert result["maximum"] == pytest.approx(float(expected.attribution.max()), rel=1e-5)
    assert result["probability"] == pytest.approx(float(expected.probs[3]), rel=1e-5)


def test_default_target_is_the_top_class(client) -> None:
    image = upload(client)
    view = run_explanation(client, image["id"], "grad_cam")
    assert view["result"]["target"] == image["predictions"][0]["index"]


def test_overlay_follows_the_display_settings(client) -> None:
    image = upload(client)
    url = run_explanation(client, image["id"], "occlusion", params={"window": 8, "stride": 4})[
        "result"
    ]["overlay_url"]

    def picture(query: str) -> np.ndarray:
        response = client.get(f"{url}?{query}")
        assert response.status_code == 200, response.text
        return np.asarray(Image.open(io.BytesIO(response.content)), dtype=float)

    original = picture("mode=original")
    np.testing.assert_array_equal(
        original, np.asarray(Image.open(io.BytesIO(client.get(image["view_url"]).content)))
    )
    faint, strong = picture("opacity=0.2"), picture("opacity=0.9")
    assert np.abs(faint - original).mean() < np.abs(strong - original).mean()
    assert not np.array_equal(picture("colormap=viridis"), picture("colormap=gray"))
    assert not np.array_equal(picture("values=signed"), picture("values=absolute"))
    assert not np.array_equal(picture("limit=0.001"), picture("limit=1000"))
    heat = picture("mode=heatmap")
    assert not np.array_equal(heat, original)
    for bad in ("opacity=2", "colormap=rainbow", "mode=sideways", "limit=-1", "unknown=1"):
        response = client.get(f"{url}?{bad}")
        assert response.status_code == 422, bad
        assert response.json()["detail"].split(":")[0] in bad


def test_a_repeated_request_is_served_from_the_cache(client, gated) -> None:
    image = upload(client)
    body = {"image_id": image["id"], "method": "gated", "params": {"steps": 2}}
    first = client.post("/api/explanations", json=body)
    assert first.status_code == 201 and not first.json()["reused"]
    gated.gate.release(2)
    wait_job(client, first.json()["id"])
    second = client.post("/api/explanations", json=body)
    assert second.status_code == 200 and second.json()["reused"]
    assert second.json()["id"] == first.json()["id"] and second.json()["status"] == "done"
    assert gated.calls == 1
    # Another target, or other parameters, are another job.
    other = client.post("/api/explanations", json={**body, "target": 1})
    assert other.status_code == 201 and other.json()["id"] != first.json()["id"]


def test_progress_eta_stream_and_cancel(client, gated) -> None:
    image = upload(client)
    body = {"image_id": image["id"], "method": "gated", "params": {"steps": 10}}
    job_id = client.post("/api/explanations", json=body).json()["id"]
    assert gated.started.wait(10)
    gated.gate.release(4)
    deadline = time.monotonic() + 10
    while (view := client.get(f"/api/jobs/{job_id}").json())["progress"] < 0.4:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert view["status"] == "running" and view["eta_seconds"] is not None
    # While it runs, other requests are answered.
    assert client.get("/api/models").status_code == 200
    assert (
        client.post("/api/images", files={"file": ("b.png", png_bytes(seed=3))}).status_code == 201
    )
    cancelled = client.post(f"/api/jobs/{job_id}/cancel")
    assert cancelled.status_code == 200
    gated.gate.release(1)
    with client.stream("GET", f"/api/jobs/{job_id}/events") as events:
        assert events.headers["content-type"].startswith("text/event-stream")
        text = "".join(events.iter_text())
    kinds = re.findall(r"^event: (\w+)$", text, re.MULTILINE)
    assert kinds[-1] == "end" and set(kinds) <= {"progress", "end"}
    final = json.loads(text.strip().split("data: ")[-1])
    assert final["status"] == "cancelled" and 0.4 <= final["progress"] < 1.0
    # A cancelled job has no result to fetch, and the worker is free again.
    assert client.get(f"/api/jobs/{job_id}/map.npy").status_code == 409
    assert run_explanation(client, image["id"], "saliency")["status"] == "done"


def test_stream_reports_progress_until_the_end(client, gated) -> None:
    image = upload(client)
    job_id = client.post(
        "/api/explanations",
        json={"image_id": image["id"], "method": "gated", "params": {"steps": 3}},
    ).json()["id"]
    gated.gate.release(3)
    with client.stream("GET", f"/api/jobs/{job_id}/events") as events:
        payloads = [
            json.loads(line.removeprefix("data: "))
            for line in events.iter_lines()
            if line.startswith("data: ")
        ]
    assert payloads[-1]["status"] == "done" and payloads[-1]["result"]["method"] == "gated"
    progress = [p["progress"] for p in payloads]
    assert progress == sorted(progress)


def test_a_full_queue_answers_503_with_retry_after(client, gated) -> None:
    image = upload(client)

    def start(steps: int):
        body = {"image_id": image["id"], "method": "gated", "params": {"steps": steps}}
        return client.post("/api/explanations", json=body)

    # One worker and two waiting places (the test settings): the fourth job is refused.
    accepted = [start(steps) for steps in (5, 6, 7)]
    assert [r.status_code for r in accepted] == [201, 201, 201]
    refused = start(8)
    assert refused.status_code == 503 and refused.headers["retry-after"] == "5"
    assert "busy" in refused.json()["detail"]
    gated.gate.release(5 + 6 + 7)
    for response in accepted:
        assert wait_job(client, response.json()["id"])["status"] == "done"


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"method": "nope"}, 404, "unknown explanation method 'nope'"),
        ({"method": "grad_cam", "target": 10}, 422, "class 10 is out of range"),
        ({"method": "grad_cam", "target": -1}, 422, "out of range"),
        ({"method": "occlusion", "params": {"window": 0}}, 422, "window"),
        ({"method": "occlusion", "params": {"windw": 8}}, 422, "windw"),
        ({"method": "grad_cam", "params": {"layer": "nope"}}, 422, "nope"),
        ({"method": "grad_cam", "model": "nope"}, 404, "unknown model"),
        ({"method": "grad_cam", "image_id": "missing"}, 404, "upload it again"),
        ({"method": "grad_cam", "extra": 1}, 422, "extra"),
        ({"image_id": "x"}, 422, "method: Field required"),
    ],
)
def test_bad_explanation_requests(client, body, status, words) -> None:
    image = upload(client)
    response = client.post("/api/explanations", json={"image_id": image["id"], **body})
    if response.status_code in (200, 201):  # checked when the job runs (the layer name)
        view = wait_job(client, response.json()["id"])
        assert view["status"] == "failed" and view["error_status"] == status
        assert words in view["error"]
    else:
        assert response.status_code == status, response.text
        assert words in response.json()["detail"]


def test_a_method_that_does_not_fit_the_model_is_refused(client, gated, monkeypatch) -> None:
    monkeypatch.setattr(gated, "supports", lambda self, model: "it needs a bigger model")
    image = upload(client)
    response = client.post("/api/explanations", json={"image_id": image["id"], "method": "gated"})
    assert response.status_code == 422
    assert response.json()["detail"] == "gated cannot run on tiny: it needs a bigger model"
    assert gated.calls == 0


def test_attack_job_and_its_adversarial_image(client, tiny_model) -> None:
    image = upload(client)
    body = {"image_id": image["id"], "method": "fgsm", "params": {"epsilon": 0.1}}
    response = client.post("/api/attacks", json=body)
    assert response.status_code == 201
    result = wait_job(client, response.json()["id"])["result"]
    expected = attack(
        tiny_model, model_view(tiny_model, png_bytes()), "fgsm", None, {"epsilon": 0.1}
    )
    assert result["label_before"]["index"] == expected.label_before
    assert result["label_after"]["index"] == expected.label_after
    assert result["success"] == expected.success
    assert result["linf"] == pytest.approx(0.1, abs=1e-6)
    assert result["amplification"] == pytest.approx(5.0, rel=1e-5)
    perturbation = client.get(result["perturbation_url"])
    assert perturbation.status_code == 200 and perturbation.headers["x-amplification"] == "5.0"
    # The adversarial image is stored exactly (not rounded to 8 bits) and can be explained.
    adversarial = result["adversarial_image_id"]
    again = client.get(f"/api/images/{adversarial}").json()
    assert again["predictions"][0]["index"] == expected.label_after
    view = run_explanation(client, adversarial, "saliency")
    assert view["result"]["target"] == expected.label_after
    # An attack job has no map, and an explanation job no perturbation.
    job_id = response.json()["id"]
    assert client.get(f"/api/jobs/{job_id}/overlay.png").status_code == 409
    assert client.get(f"/api/jobs/{view['id']}/perturbation.png").status_code == 409


def test_bad_attack_requests(client) -> None:
    image = upload(client)
    base = {"image_id": image["id"]}
    cases = [
        ({"method": "targeted"}, 422, "needs a target"),
        ({"method": "fgsm", "params": {"epsilon": 2}}, 422, "epsilon"),
        ({"method": "boom"}, 404, "unknown attack"),
        ({"method": "pgd", "target": 99}, 422, "out of range"),
    ]
    for body, status, words in cases:
        response = client.post("/api/attacks", json={**base, **body})
        assert response.status_code == status, (body, response.text)
        assert words in response.json()["detail"]


def test_unknown_job(client) -> None:
    for path in ("", "/events", "/map.npy", "/overlay.png"):
        response = client.get(f"/api/jobs/0123{path}")
        assert response.status_code == 404 and "no job" in response.json()["detail"]
    assert client.post("/api/jobs/0123/cancel").status_code == 404


def test_report_is_self_contained(client) -> None:
    image = upload(client, name='"><img src=x onerror=alert(1)>.png')
    jobs = [
        run_explanation(client, image["id"], method)["id"]
        for method in ("saliency", "grad_cam", "occlusion")
    ]
    response = client.post(
        "/api/reports",
        json={"image_id": image["id"], "job_ids": jobs, "display": {"opacity": 0.7}},
    )
    assert response.status_code == 200 and "attachment" in response.headers["content-disposition"]
    html = response.text
    sources = re.findall(r'<img src="([^"]*)"', html)
    assert len(sources) == 1 + len(jobs)
    assert all(source.startswith("data:image/png;base64,") for source in sources)
    assert not re.search(r"https?://", html) and "<script" not in html
    assert "&gt;&lt;img src=x onerror=alert(1)&gt;.png" in html and "<img src=x" not in html
    assert "Vanilla gradient" in html and "Grad-CAM" in html and "torch" in html
    bad = client.post(
        "/api/reports", json={"image_id": image["id"], "job_ids": jobs, "display": {"opacity": 5}}
    )
    assert bad.status_code == 422


def test_the_top_class_and_the_same_class_by_index_are_one_job(client) -> None:
    image = upload(client)
    top = image["predictions"][0]["index"]
    first = client.post("/api/explanations", json={"image_id": image["id"], "method": "saliency"})
    assert first.status_code == 201 and first.json()["request"]["target"] == top
    wait_job(client, first.json()["id"])
    again = client.post(
        "/api/explanations", json={"image_id": image["id"], "method": "saliency", "target": top}
    )
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]


def test_the_explain_report_carries_each_maps_verdicts(client) -> None:
    image = upload(client)
    explained = run_explanation(client, image["id"], "saliency")
    target = explained["result"]["target"]
    body = {"image_id": image["id"], "method": "saliency", "target": target}
    checks = [
        wait_job(client, client.post(path, json={**body, "steps": steps}).json()["id"])
        for path, steps in (("/api/faithfulness", 4), ("/api/sanity", 2))
    ]
    assert all(check["status"] == "done" for check in checks)
    other = run_explanation(client, image["id"], "grad_cam")
    response = client.post(
        "/api/reports",
        json={
            "image_id": image["id"],
            "job_ids": [explained["id"], other["id"]],
            "check_ids": [check["id"] for check in checks],
        },
    )
    assert response.status_code == 200, response.text
    html = response.text
    for check in checks:
        verdict = check["result"]["verdict"]
        assert verdict["headline"] in html and verdict["sentence"].split("'")[0] in html
    saliency, grad_cam = html.split("Grad-CAM", 1)[0], html.split("Grad-CAM", 1)[1]
    assert 'class="verdict"' in saliency and 'class="verdict"' not in grad_cam
