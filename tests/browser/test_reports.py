"""Each page's report in chromium, on the sample cat photo: it downloads under a descriptive name,
holds every picture inline with its legend and caption, the verdicts and the settings in words,
the machine and the versions (report_checks). The lab's and the compression lab's reports are
checked in test_lab.py and test_compress.py, after their runs. A report of the Explain page is
also the README's screenshot of a report."""

import base64
import io
import re

import pytest
from PIL import Image

from tests.browser.report_checks import download_report
from tests.browser.screenshots import save_for_readme

pytestmark = pytest.mark.browser


def _pictures(html: str) -> list[Image.Image]:
    sources = re.findall(r'<img src="data:image/png;base64,([^"]*)"', html)
    return [Image.open(io.BytesIO(base64.b64decode(source))) for source in sources]


def _caption(browser_page, server_url: str, method: str) -> str:
    """The start of the method's caption in the catalog (before its class placeholder)."""
    methods = browser_page.request.get(server_url + "/api/methods").json()
    caption: str = next(m for m in methods if m["name"] == method)["caption"]
    return caption.split("{")[0].replace("'", "&#39;")


def _pick_the_cat(browser_page, server_url: str, path: str) -> None:
    browser_page.goto(server_url + path)
    browser_page.wait_for_function("() => document.querySelectorAll('#model option').length")
    browser_page.click('.sample[data-name="chelsea"]')


def test_explain_report(page, server_url, tmp_path) -> None:
    browser_page = page.page
    _pick_the_cat(browser_page, server_url, "/")
    browser_page.wait_for_function(
        "() => document.querySelectorAll('.pane[data-status=done]').length >= 5"
    )
    filename, html = download_report(page, "#report", tmp_path)
    assert filename.startswith("lantern-explain-chelsea-")
    assert _caption(browser_page, server_url, "grad_cam") in html
    maps = _pictures(html)[1:]
    assert len(maps) == 5 and all(m.height > m.width for m in maps)  # a colour bar under each
    assert "Display: overlay" in html and "{" not in re.sub(
        r"<style>.*</style>", "", html, flags=re.S
    )
    browser_page.goto((tmp_path / filename).as_uri())
    save_for_readme(browser_page, "report.png")
    assert page.errors == [] and page.dialogs == []


def test_attack_report(page, server_url, tmp_path) -> None:
    browser_page = page.page
    _pick_the_cat(browser_page, server_url, "/attack")
    browser_page.locator("#run-attack:not([disabled])").click()
    browser_page.locator("#attack-result:not([hidden])").wait_for()
    browser_page.wait_for_function("() => document.querySelector('.pane[data-status=done]')")
    verdict = browser_page.locator("#verdict").inner_text()
    filename, html = download_report(page, "#page-report", tmp_path)
    assert filename.startswith("lantern-attack-chelsea-")
    assert verdict in html and "original:" in html and "the change, magnified" in html
    assert "· original" in html and "· attacked" in html  # the map pairs
    assert re.search(r"<dt>ε</dt><dd>\d+</dd>", html)  # the settings, in words
    assert "still running" not in html or "Still running when this report was made" in html
    assert page.errors == [] and page.dialogs == []


def test_shapley_report(page, server_url, tmp_path) -> None:
    browser_page = page.page
    _pick_the_cat(browser_page, server_url, "/shapley")
    browser_page.wait_for_function("() => document.querySelector('.pane[data-status]')")
    # Asked while the map is still computing: the report waits for it.
    filename, html = download_report(page, "#page-report", tmp_path)
    assert filename.startswith("lantern-shapley-chelsea-")
    assert "average = Shapley value φ" in html  # the lecture's table
    assert _caption(browser_page, server_url, "kernel_shap") in html
    maps = _pictures(html)
    assert len(maps) == 2 and maps[1].height > maps[1].width  # the photo, the map with its bar
    assert "still running" not in html
    assert page.errors == [] and page.dialogs == []
