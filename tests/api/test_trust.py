"""Sanity checks and faithfulness over HTTP equal the Python API's results."""

import io

import pytest
from PIL import Image

from app.trust import faithfulness, randomization_test
from tests.api.helpers import png_bytes, upload, wait_job


def model_view(tiny_model):
    return tiny_model.preprocessing.model_view(Image.open(io.BytesIO(png_bytes())).convert("RGB"))


def test_sanity_job(client, tiny_model) -> None:
    image = upload(client)
    body = {"image_id": image["id"], "method": "saliency", "target": 2, "steps": 3}
    response = client.post("/api/sanity", json=body)
    assert response.status_code == 201
    view = wait_job(client, response.json()["id"])
    assert view["kind"] == "sanity" and view["status"] == "done"
    result = view["result"]
    expected = randomization_test(tiny_model, model_view(tiny_model), "saliency", 2, steps=3)
    assert result["steps"] == expected.steps and result["passes"] == expected.passes
    assert result["similarity"]["spearman_abs"] == pytest.approx(
        expected.similarity["spearman_abs"]
    )
    strip = client.get(result["map_urls"][-1])
    assert strip.status_code == 200 and Image.open(io.BytesIO(strip.content)).size == (32, 32)
    assert client.get(result["map_urls"][-1].replace("/2.png", "/9.png")).status_code == 422
    assert client.post("/api/sanity", json=body).json()["reused"]


def test_faithfulness_job(client, tiny_model) -> None:
    image = upload(client)
    body = {"image_id": image["id"], "method": "grad_cam", "steps": 4}
    view = wait_job(client, client.post("/api/faithfulness", json=body).json()["id"])
    result = view["result"]
    expected = faithfulness(tiny_model, model_view(tiny_model), "grad_cam", steps=4).summary()
    assert result["fractions"] == [0.0, 0.25, 0.5, 0.75, 1.0]
    for key in ("deletion_auc", "insertion_auc", "random_deletion_auc", "random_insertion_auc"):
        assert result[key] == pytest.approx(expected[key], rel=1e-5)
    mean = client.post("/api/faithfulness", json={**body, "deletion_baseline": "mean"}).json()
    result_mean = wait_job(client, mean["id"])["result"]
    assert result_mean["deletion_baseline"] == "mean"
    assert result_mean["deletion_auc"] != result["deletion_auc"]
    assert result_mean["insertion_auc"] == pytest.approx(result["insertion_auc"])
    # A faithfulness job has no randomised maps.
    assert client.get(f"/api/jobs/{view['id']}/randomized/0.png").status_code == 409


@pytest.mark.parametrize(
    ("path", "body", "status", "words"),
    [
        ("/api/sanity", {"method": "saliency", "steps": 1}, 422, "steps"),
        ("/api/sanity", {"method": "saliency", "mode": "sideways"}, 422, "mode"),
        ("/api/sanity", {"method": "nope"}, 404, "unknown explanation method"),
        ("/api/faithfulness", {"method": "occlusion", "params": {"window": 0}}, 422, "window"),
        ("/api/faithfulness", {"method": "saliency", "target": 99}, 422, "out of range"),
        ("/api/faithfulness", {"method": "saliency", "deletion_baseline": "x"}, 422, "baseline"),
    ],
)
def test_bad_trust_requests(client, path, body, status, words) -> None:
    image = upload(client)
    response = client.post(path, json={"image_id": image["id"], **body})
    assert response.status_code == status and words in response.json()["detail"]


def test_faithfulness_reuses_the_map_on_screen(client, gated) -> None:
    image = upload(client)
    body = {"image_id": image["id"], "method": "gated", "params": {"steps": 1}}
    explained = client.post("/api/explanations", json=body).json()
    gated.gate.release(1)
    wait_job(client, explained["id"])
    view = wait_job(
        client, client.post("/api/faithfulness", json={**body, "steps": 4}).json()["id"]
    )
    assert view["status"] == "done" and gated.calls == 1
    # With other parameters there is no map to reuse: it is computed.
    other = client.post("/api/faithfulness", json={**body, "params": {"steps": 2}, "steps": 4})
    gated.gate.release(2)
    assert wait_job(client, other.json()["id"])["status"] == "done" and gated.calls == 2


def test_consensus_of_finished_maps(client, tiny_model) -> None:
    from app.trust.consensus import consensus

    image = upload(client)
    jobs = [
        wait_job(
            client,
            client.post(
                "/api/explanations", json={"image_id": image["id"], "method": m, "target": 1}
            ).json()["id"],
        )
        for m in ("saliency", "grad_cam", "occlusion")
    ]
    response = client.post("/api/consensus", json={"job_ids": [j["id"] for j in jobs]})
    assert response.status_code == 200, response.text
    view = response.json()
    workspace = client.app.state.workspace
    maps = [workspace.explanation(j["id"]) for j in jobs]
    expected = consensus(
        [(j["result"]["title"], m.attribution, m.signed) for j, m in zip(jobs, maps, strict=True)]
    )
    assert view["sentence"] == expected.sentence and view["total"] == 3
    other = wait_job(
        client,
        client.post(
            "/api/explanations", json={"image_id": image["id"], "method": "saliency", "target": 2}
        ).json()["id"],
    )
    mixed = client.post("/api/consensus", json={"job_ids": [jobs[0]["id"], other["id"]]})
    assert mixed.status_code == 422 and "one image and class" in mixed.json()["detail"]
    assert client.post("/api/consensus", json={"job_ids": [jobs[0]["id"]]}).status_code == 422
    assert client.post("/api/consensus", json={"job_ids": ["nope", "nada"]}).status_code == 404
