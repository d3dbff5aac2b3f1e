"""The /audit page in Debian's chromium: run a small Shapes audit and read its report; WCAG 2.1
AA by axe-core before and after."""

import io
import re
import zipfile
from collections.abc import Iterator

import pytest
from PIL import Image

from app.audit import AuditParams, run_audit
from app.main import create_app
from app.settings import Settings
from tests.audit.conftest import MODEL
from tests.browser.axe_checks import severe_violations
from tests.browser.fixtures import serving
from tests.browser.report_checks import download_report

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def audit_url(audit_settings: Settings) -> Iterator[str]:
    # A finished predictions-only audit of the images the page's test audits, to compare with.
    params = AuditParams(
        data="shapes:80", model=MODEL, engine="plain", methods=[], sanity_images=0, seed=1
    )
    run_audit(params, audit_settings, audit_settings.data_dir / "audits" / ("f" * 24))
    with serving(create_app(audit_settings)) as url:
        yield url


def test_run_an_audit_from_the_page(page, audit_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    browser_page = page.page
    browser_page.goto(audit_url + "/audit")
    browser_page.wait_for_function("() => document.querySelectorAll('#model option').length")
    assert severe_violations(browser_page, "audit-form") == []
    browser_page.select_option("#model", MODEL)
    # A zip chosen in the form is uploaded at once and its source ticked (api.js).
    archive = tmp_path / "three.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for index in range(3):
            picture = io.BytesIO()
            Image.new("RGB", (32, 32), (index * 80, 40, 90)).save(picture, "PNG")
            zipped.writestr(f"photo{index}.png", picture.getvalue())
    browser_page.set_input_files("#dataset-file", str(archive))
    browser_page.wait_for_function(
        "() => document.getElementById('dataset-info').textContent.includes('3 images uploaded')"
    )
    assert browser_page.is_checked('input[name="source"][value="zip"]')
    browser_page.check('input[name="source"][value="shapes"]')
    browser_page.fill("#shapes-count", "80")  # a few per class: SpRAy needs 6
    browser_page.select_option("#engine", "plain")
    browser_page.click("#run")
    browser_page.wait_for_selector(".headline", timeout=240_000)
    text = browser_page.inner_text("#results")
    assert "80 of 80 images scored by shapes/student" in text
    assert "Accuracy" in text and "mass inside the object" in text
    assert browser_page.locator("#results table tbody tr").count() == 10
    browser_page.click("#results thead th:nth-child(2) button")  # sort by images
    assert browser_page.get_attribute("#results thead th:nth-child(2)", "aria-sort") == "ascending"
    supports = browser_page.locator("#per-class tbody td:nth-child(2)").all_inner_texts()
    assert [int(v) for v in supports] == sorted(int(v) for v in supports)
    # The legend and caption of every chart: the reliability diagram and the histogram.
    assert browser_page.locator("#calibration .js-plotly-plot").count() == 2
    assert browser_page.locator("#calibration figcaption").count() == 2
    # Drill-down: a class's button lists its images, mistakes first, each a link to Explain.
    first_class = browser_page.locator("#per-class tbody th button").first
    label = first_class.inner_text()
    first_class.press("Enter")
    browser_page.wait_for_selector("#drill figure img")
    assert f"Images labelled {label}" in browser_page.inner_text("#drill h2")
    captions = browser_page.locator("#drill figcaption").all_inner_texts()
    assert captions and all(f"labelled {label}" in caption for caption in captions)
    browser_page.wait_for_selector("#mistakes figure a[href]")
    assert browser_page.locator("#spray-grad_cam figure img").count() > 0
    page.screenshot("audit-report")
    assert severe_violations(browser_page, "audit-report") == []
    assert browser_page.locator('#results a[href$="/report.html"]').count() == 1
    # The HTML report: one self-contained file with the charts and thumbnails inline.
    _, html = download_report(page, "#page-report", tmp_path)
    assert "Dataset audit: shapes/student on shapes:80:random" in html
    assert "Per class" in html and html.count("data:image/png") >= 4
    # A thumbnail opens the Explain page with that image and its class selected.
    link = browser_page.locator("#mistakes figure a").first
    href = link.get_attribute("href")
    assert href and re.search(r"/api/audits/[0-9a-f]{24}/images/\d+/explain\?class=\d+$", href)
    target = href.rsplit("=", 1)[1]
    link.click()
    browser_page.wait_for_url(re.compile(r"/\?image="))
    assert f"class={target}" in browser_page.url and "image=" in browser_page.url
    browser_page.wait_for_selector("#predictions .row", timeout=60_000)
    chosen = browser_page.locator(f'#predictions .row[data-index="{target}"]')
    if chosen.count():  # the class is among the top five: it is the one selected
        assert chosen.get_attribute("aria-pressed") == "true"
    assert page.errors == []


def test_two_audits_side_by_side(page, audit_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    browser_page = page.page
    browser_page.goto(audit_url + "/audit")
    browser_page.wait_for_function(
        "() => document.querySelectorAll('#compare-first option').length >= 2"
    )
    browser_page.select_option("#compare-first", "f" * 24)
    second = browser_page.locator("#compare-second option").nth(0).get_attribute("value")
    if second == "f" * 24:
        second = browser_page.locator("#compare-second option").nth(1).get_attribute("value")
    browser_page.select_option("#compare-second", second)
    browser_page.click("#compare")
    browser_page.wait_for_selector(".compare-table tbody tr")
    headline = browser_page.inner_text(".headline")
    assert "predicted differently on 0" in headline  # the same model on the same images
    assert browser_page.locator(".compare-table tbody tr").count() == 10
    deltas = browser_page.locator(".compare-table tbody td:nth-child(5)").all_inner_texts()
    assert set(deltas) == {"0.0 points"}
    assert severe_violations(browser_page, "audit-compared") == []
    _, html = download_report(page, "#page-report", tmp_path)
    assert "Audits compared" in html and "Δ recall" in html
    assert page.errors == []
