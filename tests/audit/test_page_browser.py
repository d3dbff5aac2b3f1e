"""The /audit page in Debian's chromium: run a small Shapes audit and read its report; WCAG 2.1
AA by axe-core before and after."""

from collections.abc import Iterator

import pytest

from app.main import create_app
from app.settings import Settings
from tests.audit.conftest import MODEL
from tests.browser.fixtures import serving

pytestmark = pytest.mark.browser

WCAG_AA = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}


def _severe_violations(browser_page) -> list[dict]:  # type: ignore[no-untyped-def]
    from axe_playwright_python.sync_playwright import Axe

    violations = Axe().run(browser_page, options=WCAG_AA).response["violations"]
    return [
        {"id": v["id"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in violations
        if v["impact"] in ("serious", "critical")
    ]


@pytest.fixture(scope="module")
def audit_url(audit_settings: Settings) -> Iterator[str]:
    with serving(create_app(audit_settings)) as url:
        yield url


def test_run_an_audit_from_the_page(page, audit_url: str) -> None:  # type: ignore[no-untyped-def]
    browser_page = page.page
    browser_page.goto(audit_url + "/audit")
    browser_page.wait_for_function("() => document.querySelectorAll('#model option').length")
    assert _severe_violations(browser_page) == []
    browser_page.select_option("#model", MODEL)
    browser_page.fill("#shapes-count", "20")
    browser_page.select_option("#engine", "plain")
    browser_page.click("#run")
    browser_page.wait_for_selector(".headline", timeout=240_000)
    text = browser_page.inner_text("#results")
    assert "20 of 20 images scored by shapes/student" in text
    assert "Accuracy" in text and "mass inside the object" in text
    assert browser_page.locator("#results table tbody tr").count() == 10
    browser_page.click("#results th:nth-child(2) button")  # sort by images
    page.screenshot("audit-report")
    assert _severe_violations(browser_page) == []
    assert page.errors == []
