"""Finished audits through the API: list, read, a class's images, pictures, the Explain link,
progress, and two audits compared (against numbers changed by hand)."""

import io
import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from app.audit import AuditParams, run_audit
from app.main import create_app
from app.settings import Settings
from app.shapes.base import SIZE
from tests.audit.conftest import MODEL

FIRST = "a" * 24


@pytest.fixture(scope="module")
def audited(audit_settings: Settings) -> Settings:
    """One finished audit (12 Shapes images, Grad-CAM) where the server keeps its audits."""
    params = AuditParams(
        data="shapes:12", model=MODEL, engine="plain", methods=["grad_cam"], sanity_images=0
    )
    run_audit(params, audit_settings, audit_settings.data_dir / "audits" / FIRST)
    return audit_settings


@pytest.fixture(scope="module")
def client(audited: Settings) -> TestClient:
    with TestClient(create_app(audited)) as test_client:
        yield test_client  # type: ignore[misc]


def _report(settings: Settings, audit_id: str = FIRST) -> dict:
    return json.loads((settings.data_dir / "audits" / audit_id / "report.json").read_text())


def test_list_and_read(client: TestClient, audited: Settings) -> None:
    listed = {audit["id"]: audit for audit in client.get("/api/audits").json()}
    assert listed[FIRST]["images"] == 12 and listed[FIRST]["methods"] == ["grad_cam"]
    report = client.get(f"/api/audits/{FIRST}").json()
    assert report["classification"] == _report(audited)["classification"]
    progress = client.get(f"/api/audits/{FIRST}/progress").json()
    assert progress["done"] == progress["total"] == 12 and not progress["running"]
    assert sum(progress["per_worker"].values()) == 12
    assert progress["startup_seconds"] >= 0 and progress["eta_seconds"] == 0
    assert progress["scoring_images_per_second"] > 0


def test_class_images_are_the_parquet_rows(client: TestClient, audited: Settings) -> None:
    table = pq.read_table(audited.data_dir / "audits" / FIRST / "images.parquet").to_pylist()
    label = table[0]["label"]
    found = client.get(f"/api/audits/{FIRST}/classes/{label}").json()
    expected = {i for i, row in enumerate(table) if row["label"] == label}
    assert {row["index"] for row in found["images"]} == expected
    assert found["total"] == len(expected)
    correct = [row["correct"] for row in found["images"]]
    assert correct == sorted(correct)  # mistakes first
    for row in found["images"]:
        assert row["prediction"] == table[row["index"]]["prediction"]
    assert client.get(f"/api/audits/{FIRST}/classes/99").status_code == 422
    wrong = next(row for row in table if row["label"] != row["prediction"])
    pair = client.get(
        f"/api/audits/{FIRST}/classes/{wrong['label']}?predicted={wrong['prediction']}"
    ).json()
    assert {row["index"] for row in pair["images"]} == {
        i
        for i, row in enumerate(table)
        if (row["label"], row["prediction"]) == (wrong["label"], wrong["prediction"])
    }


def test_pictures_and_the_explain_link(client: TestClient, audited: Settings) -> None:
    from app.audit.scoring import read_image

    response = client.get(f"/api/audits/{FIRST}/images/3.png")
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    served = np.asarray(Image.open(io.BytesIO(response.content)))
    manifest = json.loads((audited.data_dir / "audits" / FIRST / "manifest.json").read_text())
    location = [loc for shard in manifest["shards"] for loc in shard["locations"]][3]
    assert location.startswith("shapes:")
    drawn, _ = read_image(location, 10**9, 10**9)
    assert served.shape == (SIZE, SIZE, 3) and np.array_equal(served, np.asarray(drawn))
    legend = client.get(f"/api/audits/{FIRST}/maps/grad_cam/3.png?legend=true")
    plain = client.get(f"/api/audits/{FIRST}/maps/grad_cam/3.png")
    assert legend.status_code == plain.status_code == 200
    taller = Image.open(io.BytesIO(legend.content)).height
    assert taller > Image.open(io.BytesIO(plain.content)).height == 3 * SIZE  # drawn ≥ 160 px
    opened = client.get(f"/api/audits/{FIRST}/images/3/explain?class=2", follow_redirects=False)
    assert opened.status_code == 303
    location = opened.headers["location"]
    assert location.startswith("/?image=") and "class=2" in location
    image_id = location.split("image=")[1].split("&")[0]
    view = client.get(f"/api/images/{image_id}?model={MODEL}")
    assert view.status_code == 200, view.text


@pytest.mark.parametrize(
    "path",
    [
        "/api/audits/nothex",
        f"/api/audits/{'b' * 24}",
        f"/api/audits/{FIRST}/images/12.png",
        f"/api/audits/{FIRST}/images/-1.png",
        f"/api/audits/{FIRST}/maps/saliency/0.png",
        f"/api/audits/{FIRST}/maps/..%2F..%2Fetc/0.png",
        "/api/audits/..%2F..%2F..%2Fetc/images/0.png",
    ],
)
def test_unknown_audits_images_and_maps_are_404(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 404


def test_a_location_outside_the_data_dir_is_refused(client: TestClient, audited: Settings) -> None:
    hostile = audited.data_dir / "audits" / ("c" * 24)
    shutil.copytree(audited.data_dir / "audits" / FIRST, hostile)
    manifest = json.loads((hostile / "manifest.json").read_text())
    manifest["shards"][0]["locations"][0] = "/etc/passwd"
    (hostile / "manifest.json").write_text(json.dumps(manifest))
    response = client.get(f"/api/audits/{'c' * 24}/images/0.png")
    assert response.status_code == 404 and "not on this server" in response.text
    shutil.rmtree(hostile)


def test_compare_gives_second_minus_first(client: TestClient, audited: Settings) -> None:
    """A copy of the audit with one class's recall and one image's prediction changed by hand:
    the deltas are exactly those changes."""
    second = "d" * 24
    folder = audited.data_dir / "audits" / second
    shutil.copytree(audited.data_dir / "audits" / FIRST, folder)
    report = _report(audited)
    report["per_class"][1]["recall"] = report["per_class"][1]["recall"] + 0.25
    report["classification"]["accuracy"] -= 0.125
    report["model"] = "changed"
    (folder / "report.json").write_text(json.dumps(report))
    table = pq.read_table(folder / "images.parquet")
    predictions = table.column("prediction").to_pylist()
    predictions[5] = (predictions[5] + 1) % 10
    table = table.set_column(
        table.column_names.index("prediction"), "prediction", pa.array(predictions)
    )
    pq.write_table(table, folder / "images.parquet")
    compared = client.get(f"/api/audits/compare?first={FIRST}&second={second}").json()
    assert compared["second"]["model"] == "changed"
    assert compared["images"] == 12 and compared["predictions_differ"] == 1
    assert compared["headline"]["accuracy"][2] == pytest.approx(-0.125)
    deltas = {row["class"]: row["recall"][2] for row in compared["per_class"]}
    assert deltas.pop(report["per_class"][1]["class"]) == pytest.approx(0.25)
    assert all(delta in (0, None) for delta in deltas.values())
    assert compared["shortcuts"]["grad_cam"]["mass_inside"][2] == 0
    assert client.get(f"/api/audits/compare?first={FIRST}&second={FIRST}").status_code == 422
    shutil.rmtree(folder)


def test_compare_refuses_different_data(
    client: TestClient, audited: Settings, tmp_path: Path
) -> None:
    other = "e" * 24
    params = AuditParams(data="shapes:6", model=MODEL, engine="plain", methods=[], sanity_images=0)
    run_audit(params, audited, audited.data_dir / "audits" / other)
    response = client.get(f"/api/audits/compare?first={FIRST}&second={other}")
    assert response.status_code == 422 and "different data" in response.text
    shutil.rmtree(audited.data_dir / "audits" / other)


def test_the_html_report_is_self_contained(client: TestClient, audited: Settings) -> None:
    from tests.browser.report_checks import check_self_contained

    response = client.get(f"/api/audits/{FIRST}/report.html")
    assert response.status_code == 200, response.text
    filename = response.headers["content-disposition"].split('filename="')[1].rstrip('"')
    html = response.text
    check_self_contained(filename, html)
    report = _report(audited)
    accuracy = report["classification"]["accuracy"]
    assert f"Accuracy {100 * accuracy:.1f} %" in html
    assert "Most confident mistakes" in html and "Calibration" in html
    shown = min(12, len(report["confident_mistakes"])) + min(
        12, len(report["label_issues"]["images"])
    )
    assert html.count("data:image/png") >= shown > 0
