"""The pages render, and everything they load is served here: no CDN, no external request."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]


@pytest.mark.parametrize("path", ["/", "/attack", "/shapley"])
def test_pages_render(client, path) -> None:
    response = client.get(path)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    html = response.text
    assert 'data-default-model="tiny"' in html
    for asset in re.findall(r'(?:src|href)="(/[^"]*)"', html):
        if asset != "/docs":
            assert client.get(asset).status_code == 200, asset


def test_plotly_comes_from_the_python_package(client) -> None:
    import plotly

    bundled = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    response = client.get("/static/vendor/plotly.min.js")
    assert response.status_code == 200 and response.content == bundled.read_bytes()


SVG_NAMESPACE = "http://www.w3.org/2000/svg"


def test_no_page_or_script_loads_anything_from_outside() -> None:
    for path in [*ROOT.joinpath("templates").rglob("*.html"), *ROOT.joinpath("static").rglob("*")]:
        if path.is_file():
            # SVG's namespace is an identifier for createElementNS, never fetched.
            text = path.read_text(encoding="utf-8").replace(SVG_NAMESPACE, "")
            assert not re.search(r"https?://", text), f"{path} names an external URL"


def test_every_module_a_page_imports_exists(client) -> None:
    for script in ROOT.joinpath("static", "js").glob("*.js"):
        for module in re.findall(r'from "\./([^"]+)"', script.read_text(encoding="utf-8")):
            assert client.get(f"/static/js/{module}").status_code == 200, (script.name, module)


def test_shapley_page_shows_the_lecture_numbers(client) -> None:
    html = client.get("/shapley").text
    assert re.findall(r'<td data-player="(\w+)">([\d.]+)</td>', html) == [
        ("Alice", "180"),
        ("Bob", "360"),
        ("Carol", "460"),
    ]
    assert html.count("→") >= 6 * 2  # six orderings of three people


def test_openapi_documents_the_api(client) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in (
        "/api/images",
        "/api/models",
        "/api/methods",
        "/api/explanations",
        "/api/attacks",
        "/api/jobs/{job_id}",
        "/api/jobs/{job_id}/events",
        "/api/jobs/{job_id}/cancel",
        "/api/jobs/{job_id}/overlay.png",
        "/api/jobs/{job_id}/map.npy",
        "/api/reports",
    ):
        assert path in paths, path
    docs = client.get("/docs")
    assert docs.status_code == 200
    for asset in re.findall(r"(?:src|href)=[\"']?(/[^\"' >]*)", docs.text):
        assert client.get(asset).status_code == 200, asset
    assert not re.search(r"https?://", docs.text)
    assert client.get("/static/vendor/swagger/../../app/main.py").status_code == 404
