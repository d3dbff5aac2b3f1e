"""Shapes models show their ground truth over HTTP: the gallery offers the lab's test images for
a Shapes model only, a sample's outline is exactly its mask's boundary, and a map's pointing hit
and mass inside match a brute-force count on the map the job returned."""

import html
import io
import re

import numpy as np
import torch
from PIL import Image

from app.settings import Settings
from app.shapes.base import TEST_OFFSET
from app.shapes.dataset import SHAPES, draw_sample
from app.shapes.networks import ShapesStudent
from app.shapes.storage import save_model
from tests.api.helpers import run_explanation

STUDENT = "shapes/student"


def _edges(path: str) -> set[tuple[int, int, str]]:
    """The unit edges an outline's path draws: (x, y, 'h' | 'v') from each `Mx yhN` / `Mx yvN`."""
    edges = set()
    for x, y, kind, length in re.findall(r"M(\d+) (\d+)([hv])(\d+)", path):
        for step in range(int(length)):
            if kind == "h":
                edges.add((int(x) + step, int(y), "h"))
            else:
                edges.add((int(x), int(y) + step, "v"))
    return edges


def _boundary(mask: np.ndarray) -> set[tuple[int, int, str]]:
    """Every edge between a mask pixel and a pixel off it (or the border), pixel by pixel."""
    height, width = mask.shape
    inside = lambda x, y: 0 <= x < width and 0 <= y < height and bool(mask[y, x])  # noqa: E731
    edges = set()
    for y in range(height + 1):
        for x in range(width + 1):
            if inside(x, y) != inside(x, y - 1):
                edges.add((x, y, "h"))
            if inside(x, y) != inside(x - 1, y):
                edges.add((x, y, "v"))
    return edges


def test_a_shapes_model_gets_test_images_with_outline_and_scores(
    client, api_settings: Settings
) -> None:
    assert client.get("/api/shapes/samples").json()["samples"] == []  # the photo model: none
    torch.manual_seed(0)
    save_model(api_settings, "student", ShapesStudent(8).eval())
    gallery = client.get("/api/shapes/samples", params={"model": STUDENT}).json()
    assert gallery["shapes_model"] and len(gallery["samples"]) == 10
    assert [s["class_name"] for s in gallery["samples"]] == list(SHAPES)
    thumbnail = client.get(gallery["samples"][3]["thumbnail_url"])
    assert thumbnail.headers["content-type"] == "image/png"

    drawn = draw_sample(TEST_OFFSET + 3, 64, 0, "random")
    truth = client.get("/api/shapes/samples/shapes-3/ground-truth").json()
    assert truth["class_name"] == SHAPES[drawn.label] == "star"
    assert (truth["width"], truth["height"]) == (64, 64)
    assert _edges(truth["outline"]) == _boundary(drawn.mask)
    assert abs(truth["area_share"] - drawn.mask.mean()) < 1e-12

    image = client.post("/api/images/samples/shapes-3", params={"model": STUDENT})
    assert image.status_code == 201 and image.json()["name"] == "shapes-3"
    view = client.get(image.json()["view_url"], params={"model": STUDENT})
    pixels = np.asarray(Image.open(io.BytesIO(view.content)))
    assert np.array_equal(pixels, drawn.image)  # the model sees the lab's image, unresized

    job = run_explanation(client, image.json()["id"], "saliency", model=STUDENT)
    assert job["status"] == "done", job
    attribution = np.load(io.BytesIO(client.get(job["result"]["map_url"]).content))
    scores = client.get("/api/shapes/samples/shapes-3/scores", params={"job_id": job["id"]}).json()
    peak_y, peak_x = divmod(int(np.argmax(attribution)), attribution.shape[1])
    assert scores["pointing_hit"] == bool(drawn.mask[peak_y, peak_x])
    positive = np.where(attribution > 0, attribution, 0).astype(np.float64)
    expected_mass = positive[drawn.mask].sum() / positive.sum()
    assert abs(scores["mass_inside"] - expected_mass) < 1e-6 and scores["method"] == "saliency"
    another = client.get("/api/shapes/samples/shapes-1/scores", params={"job_id": job["id"]})
    assert another.status_code == 422 and "another image" in another.json()["detail"]

    # The page's report says the same under the map.
    report = client.post(
        "/api/reports",
        json={"image_id": image.json()["id"], "model": STUDENT, "job_ids": [job["id"]]},
    )
    assert report.status_code == 200, report.text
    text = html.unescape(report.text)
    hit = (
        "hit (the map's peak lies on" if scores["pointing_hit"] else "miss (the map's peak lies off"
    )
    assert f"Ground truth (the star's exact mask): pointing game {hit} the shape)" in text
    assert f"{scores['mass_inside']:.0%} of its positive mass inside the shape" in text


def test_bad_ground_truth_requests(client) -> None:
    for name in ("shapes-5000", "shapes-x", "chelsea"):
        response = client.get(f"/api/shapes/samples/{name}/ground-truth")
        assert response.status_code == 422 and "unknown Shapes sample" in response.json()["detail"]
    missing = client.get("/api/shapes/samples/shapes-1/scores", params={"job_id": "nope"})
    assert missing.status_code == 404
