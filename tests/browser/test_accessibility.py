"""Every page against WCAG 2.1 AA with axe-core (bundled in axe-playwright-python, no network),
and at phone width (390 px) without horizontal scrolling."""

from collections.abc import Iterator

import pytest

from app.api.pages import NAV
from app.main import create_app
from app.settings import Settings
from app.zoo import load_model
from app.zoo.pool import ModelPool
from tests.browser.axe_checks import severe_violations
from tests.browser.fixtures import serving
from tests.browser.screenshots import save_for_readme

pytestmark = pytest.mark.browser

PAGES = [entry.path for entry in NAV] + ["/docs"]  # every registered page, and the API's


def _ready(browser_page, path: str) -> None:
    """Wait until the page's script has drawn what it fetches (the model list, or Swagger)."""
    if path == "/docs":
        browser_page.wait_for_selector(".opblock", state="attached")
    elif path != "/login":
        browser_page.wait_for_function("() => document.querySelectorAll('#model option').length")


@pytest.mark.parametrize("path", PAGES)
def test_page_meets_wcag_aa(page, server_url, path) -> None:
    browser_page = page.page
    browser_page.goto(server_url + path)
    _ready(browser_page, path)
    name = path.strip("/") or "explain"
    page.screenshot(f"axe-{name}")
    assert severe_violations(browser_page, name) == []
    assert browser_page.locator("h1").count() == 1
    assert page.errors == []


@pytest.mark.parametrize("path", ["/", "/shapley"])
def test_page_with_its_maps_meets_wcag_aa(page, server_url, path) -> None:
    """The panes (maps, legends, download links, progress bars) on the sample cat photo."""
    browser_page = page.page
    browser_page.goto(server_url + path)
    _ready(browser_page, path)
    browser_page.click('.sample[data-name="chelsea"]')
    browser_page.wait_for_function(
        "() => document.querySelector('.pane[data-status=done]')"
        " && !document.querySelector('.pane[data-status=running]')"
    )
    name = (path.strip("/") or "explain") + "-maps"
    page.screenshot(f"axe-{name}")
    assert severe_violations(browser_page, name) == []
    for link in browser_page.locator(".pane a.download").all():
        assert link.get_attribute("aria-label") or len(link.inner_text()) > 4


@pytest.mark.parametrize("path", PAGES)
def test_page_fits_a_phone(page, server_url, path) -> None:
    browser_page = page.page
    browser_page.set_viewport_size({"width": 390, "height": 844})
    browser_page.goto(server_url + path)
    _ready(browser_page, path)
    if path == "/":  # the README's phone screenshot: the captioned gallery, then a map
        browser_page.locator(".sample-caption").first.wait_for()
        captions = browser_page.locator(".sample-caption").all_inner_texts()
        assert len(captions) >= 4 and all(len(caption) > 10 for caption in captions)
        browser_page.click('.sample[data-name="coffee"]')
        browser_page.wait_for_function("() => document.querySelector('.pane[data-status=done]')")
        save_for_readme(browser_page, "phone.png")
    page.screenshot(f"phone-{path.strip('/') or 'explain'}")
    width = browser_page.evaluate("() => document.scrollingElement.scrollWidth")
    assert width <= 390, f"{path} is {width} px wide at 390 px"


@pytest.fixture(scope="module")
def locked_url(tmp_path_factory, default_model) -> Iterator[str]:
    settings = Settings(device="cpu", data_dir=tmp_path_factory.mktemp("data"), api_token="t" * 24)
    app = create_app(settings, ModelPool(settings, load_model, preloaded=[default_model]))
    with serving(app) as url:
        yield url


def test_sign_in_page_meets_wcag_aa_and_fits_a_phone(page, locked_url) -> None:
    browser_page = page.page
    browser_page.goto(locked_url + "/login")
    assert severe_violations(browser_page, "login") == []
    assert browser_page.locator("h1").count() == 1
    browser_page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot("phone-login")
    assert browser_page.evaluate("() => document.scrollingElement.scrollWidth") <= 390
