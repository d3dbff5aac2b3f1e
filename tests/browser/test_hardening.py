"""The pages under their Content-Security-Policy, and a server with an API token, in chromium."""

from collections.abc import Iterator

import pytest

from app.main import create_app
from app.settings import Settings
from app.zoo import load_model
from app.zoo.pool import ModelPool
from tests.browser.fixtures import serving

pytestmark = pytest.mark.browser

TOKEN = "a-demo-token-for-the-browser-test"


@pytest.mark.parametrize("path", ["/", "/attack", "/shapley", "/lab", "/compress", "/docs"])
def test_every_page_runs_under_its_policy(page, server_url, path) -> None:
    """The fixture fails the test on any CSP violation; this opens each page and waits until
    its script has drawn (the model list, or Swagger's operations)."""
    browser_page = page.page
    browser_page.goto(server_url + path)
    if path == "/docs":
        browser_page.wait_for_selector(".opblock", state="attached")
    else:
        browser_page.wait_for_function("() => document.querySelectorAll('#model option').length")
        # Models without weights here stay out of the menu; one disabled line counts them.
        offered = browser_page.locator("#model option:not([disabled])").all_inner_texts()
        assert offered and not any("no weights" in text for text in offered)
    page.screenshot(path.strip("/") or "explain")
    assert page.errors == [] and page.dialogs == []


@pytest.fixture(scope="module")
def locked_url(tmp_path_factory, default_model) -> Iterator[str]:
    settings = Settings(device="cpu", data_dir=tmp_path_factory.mktemp("data"), api_token=TOKEN)
    app = create_app(settings, ModelPool(settings, load_model, preloaded=[default_model]))
    with serving(app) as url:
        yield url


def test_sign_in_then_use_the_dashboard(page, locked_url) -> None:
    browser_page = page.page
    browser_page.goto(locked_url + "/attack")
    assert browser_page.url.startswith(locked_url + "/login")
    browser_page.fill('input[name="token"]', "wrong-token-of-some-length")
    browser_page.click('button[type="submit"]')
    assert "not this server's token" in browser_page.locator(".login-error").inner_text()
    browser_page.fill('input[name="token"]', TOKEN)
    browser_page.click('button[type="submit"]')
    browser_page.wait_for_url(locked_url + "/attack")
    # Choosing a sample is a POST: it needs the cookie and the page's CSRF token.
    browser_page.click('.sample[data-name="chelsea"]')
    browser_page.wait_for_function(
        "() => document.getElementById('image-name').textContent === 'chelsea'"
    )
    assert browser_page.locator("#banner").is_hidden()
    page.screenshot("signed-in")
    assert page.errors == [] and page.dialogs == []
