"""POST /api/reports/page: any page's report through the one template (app/report.py)."""

import base64
import io
import re
from datetime import UTC, datetime

from PIL import Image

from app.report import describe_params, report_filename

_PNG = io.BytesIO()
Image.new("RGB", (4, 4), "red").save(_PNG, format="PNG")
PICTURE = "data:image/png;base64," + base64.b64encode(_PNG.getvalue()).decode()


def _report(**changes) -> dict:
    report = {
        "page": "attack",
        "title": "Attack on chelsea",
        "subject": "chelsea Egyptian cat",
        "summary": ["FGSM · ε = 8/255"],
        "sections": [
            {
                "heading": "The prediction flipped",
                "figures": [{"src": PICTURE, "caption": "attacked: <b>jaguar</b> (41 %)"}],
                "verdicts": [{"level": "trust", "headline": "Trustworthy", "explainer": "Why."}],
                "parameters": [["ε", "8"], ["target class", "none: any other class"]],
            },
            {"heading": "Grad-CAM · attacked", "status": "running"},
        ],
    }
    return report | changes


def test_a_page_report_is_one_self_contained_file(client) -> None:
    response = client.post("/api/reports/page", json=_report())
    assert response.status_code == 200
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    disposition = response.headers["content-disposition"]
    assert f'filename="lantern-attack-chelsea-egyptian-cat-{today}.html"' in disposition
    html = response.text
    assert re.findall(r'<img src="([^"]*)"', html) == [PICTURE]
    assert "&lt;b&gt;jaguar&lt;/b&gt;" in html and "<b>jaguar" not in html  # text, never HTML
    assert "Trustworthy" in html and "What this means: Why." in html
    assert "<dt>ε</dt><dd>8</dd>" in html
    assert "Still running when this report was made: Grad-CAM · attacked" in html
    assert "Computed on" in html and "lantern " in html and "<script" not in html


def test_a_page_report_takes_only_inline_pictures(client) -> None:
    for source in ("https://example.com/x.png", "/api/jobs/1/overlay.png", "data:text/html,<x>"):
        report = _report()
        report["sections"][0]["figures"][0]["src"] = source
        assert client.post("/api/reports/page", json=report).status_code == 422
    assert client.post("/api/reports/page", json=_report(page="../x")).status_code == 422


def test_parameters_and_file_names_in_words() -> None:
    assert describe_params({"n_samples": 50, "layer": None, "flag": True, "rate": 0.25}) == [
        ("n samples", "50"),
        ("layer", "default"),
        ("flag", "yes"),
        ("rate", "0.25"),
    ]
    when = datetime(2026, 11, 30, tzinfo=UTC)
    assert report_filename("explain", "chelsea tabby cat", when) == (
        "lantern-explain-chelsea-tabby-cat-2026-11-30.html"
    )
    assert report_filename("lab", "", when) == "lantern-lab-2026-11-30.html"
