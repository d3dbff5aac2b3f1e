"""The explain page as a stakeholder meets it: every map with its legend and caption, the
methods' consensus, the top-5 by keyboard, the forgiving class search, and the view in the URL."""

import re
from urllib.parse import parse_qs, urlparse

import pytest

from tests.browser.screenshots import save_for_readme
from tests.browser.test_dashboard import DEFAULT_PANEL, wait_panes_done

pytestmark = pytest.mark.browser


def test_maps_explain_themselves_and_the_top_five_works_by_keyboard(page, server_url) -> None:
    browser_page = page.page
    browser_page.set_viewport_size({"width": 1440, "height": 900})
    browser_page.goto(server_url)
    browser_page.click('.sample[data-name="chelsea"]')
    wait_panes_done(browser_page, len(DEFAULT_PANEL))

    # Every pane: the colour layer over the photo, a colour bar with its scale, the caption.
    for method in DEFAULT_PANEL:
        pane = browser_page.locator(f'.pane[data-method="{method}"]')
        assert "mode=layer" in pane.locator("img.heat").get_attribute("src")
        assert "grayscale" in pane.locator("img.base").evaluate("(i) => getComputedStyle(i).filter")
        ramp = pane.locator(".legend .ramp").evaluate("(r) => getComputedStyle(r).backgroundImage")
        assert ramp.startswith("linear-gradient")
        scale = pane.locator(".legend .scale").inner_text()
        assert re.search(r"against −[\d.e+-]+\s+0\s+\+[\d.e+-]+ for", scale) or re.search(
            r"0\s+[\d.e+-]+ most important", scale
        ), scale
        assert "Egyptian cat" in pane.locator(".map-caption").inner_text()
        assert "legend=true" in pane.locator("a.download").get_attribute("href")
    # Signed maps (occlusion) are blue-red; unsigned (saliency) only red.
    assert (
        "against" in browser_page.locator('.pane[data-method="occlusion"] div.legend').inner_text()
    )
    assert (
        "most important"
        in browser_page.locator('.pane[data-method="saliency"] div.legend').inner_text()
    )
    # "absolute" values and another colormap redraw the legends.
    browser_page.select_option("#values", "absolute")
    assert (
        "most important"
        in browser_page.locator('.pane[data-method="occlusion"] div.legend').inner_text()
    )
    assert parse_qs(urlparse(browser_page.url).query)["values"] == ["absolute"]
    browser_page.select_option("#values", "signed")

    # Where the methods agree, measured by the server, above the panes.
    consensus = browser_page.locator("#consensus")
    consensus.wait_for(state="visible")
    assert "methods" in consensus.inner_text() and consensus.get_attribute("data-total") == "5"

    # The activity line counts the maps and the checks, with Cancel all.
    activity = browser_page.locator("#activity")
    assert re.match(r"5 of 5 maps ready", activity.inner_text())

    # The top-5: rows with percentages, bars scaled to the top one, reached with Tab.
    rows = browser_page.locator("#predictions .row")
    assert rows.count() == 5
    assert all(re.fullmatch(r"\d+ %", t) for t in rows.locator(".value").all_inner_texts())
    widths = rows.locator(".fill").evaluate_all("(fs) => fs.map((f) => f.style.width)")
    assert widths[0] == "100%"
    browser_page.locator(".sample").last.focus()
    for _ in range(6):
        browser_page.keyboard.press("Tab")
        if browser_page.evaluate("() => document.activeElement.matches('#predictions .row')"):
            break
    assert browser_page.evaluate("() => document.activeElement.matches('#predictions .row')")
    browser_page.keyboard.press("Tab")
    label = browser_page.evaluate("() => document.activeElement.querySelector('.name').textContent")
    assert label != "Egyptian cat"
    browser_page.keyboard.press("Enter")
    browser_page.wait_for_function(
        "(label) => document.getElementById('target-info').textContent.includes(label)", arg=label
    )
    browser_page.wait_for_function(
        "(label) => [...document.querySelectorAll('.pane .meta')]"
        ".every((meta) => meta.textContent.startsWith(label + ' · '))",
        arg=label,
    )
    chosen = browser_page.locator('#predictions .row[aria-pressed="true"] .name').inner_text()
    assert chosen == label
    assert "class" in parse_qs(urlparse(browser_page.url).query)
    wait_panes_done(browser_page, len(DEFAULT_PANEL))

    # Class search: a typo finds the class; nonsense says so under the field.
    search = browser_page.locator("#class-search")
    search.fill("espreso")
    search.press("Enter")
    browser_page.wait_for_function(
        "() => document.getElementById('target-info').textContent.includes('espresso')"
    )
    search.fill("zzqqxx")
    search.press("Enter")
    hint = browser_page.locator("#class-search-hint")
    assert "No class matches" in hint.inner_text() and search.get_attribute("aria-invalid")
    search.fill("Egyptian cat")
    search.press("Enter")
    browser_page.wait_for_function(
        "() => document.getElementById('target-info').textContent.includes('Egyptian cat')"
    )
    assert hint.inner_text() == ""
    wait_panes_done(browser_page, len(DEFAULT_PANEL))
    browser_page.locator("#consensus").wait_for(state="visible")
    browser_page.evaluate("() => window.scrollTo(0, 0)")
    save_for_readme(browser_page, "explain.png", width=1100, colors=128)
    page.screenshot("legends")
    assert page.errors == [] and page.dialogs == []


def test_the_url_restores_a_view(page, server_url) -> None:
    browser_page = page.page
    # coffee, class 968 ("cup"), two methods, absolute values: as a bookmark would have it.
    browser_page.goto(
        f"{server_url}/?sample=coffee&class=968&methods=grad_cam,saliency&values=absolute"
    )
    wait_panes_done(browser_page, 2)
    shown = browser_page.locator(".pane").evaluate_all("(ps) => ps.map((p) => p.dataset.method)")
    assert shown == ["saliency", "grad_cam"]
    ticked = browser_page.locator("#methods input:checked").evaluate_all(
        "(boxes) => boxes.map((b) => b.value)"
    )
    assert sorted(ticked) == ["grad_cam", "saliency"]
    assert "cup" in browser_page.locator("#target-info").inner_text()
    assert browser_page.locator("#image-name").inner_text() == "coffee"
    assert browser_page.locator("#values").input_value() == "absolute"
    for meta in browser_page.locator(".pane .meta").all_inner_texts():
        assert meta.startswith("cup · ")
    # Changing the view rewrites the URL, and a reload brings the same view back.
    browser_page.locator('#methods input[value="occlusion"]').check()
    wait_panes_done(browser_page, 3)
    query = parse_qs(urlparse(browser_page.url).query)
    assert query["sample"] == ["coffee"] and query["class"] == ["968"]
    assert set(query["methods"][0].split(",")) == {"occlusion", "saliency", "grad_cam"}
    browser_page.reload()
    wait_panes_done(browser_page, 3)
    assert "cup" in browser_page.locator("#target-info").inner_text()
    assert browser_page.locator(".pane").count() == 3
    page.screenshot("restored")
    assert page.errors == [] and page.dialogs == []


def test_a_cancelled_pane_runs_again(page, server_url) -> None:
    browser_page = page.page
    browser_page.goto(f"{server_url}/?sample=astronaut&methods=kernel_shap")
    pane = browser_page.locator('.pane[data-method="kernel_shap"]')
    pane.locator("button.cancel").wait_for(state="visible")
    browser_page.wait_for_function(
        "() => document.querySelector('#activity .cancel-all:not([hidden])')"
    )
    browser_page.click("#activity .cancel-all")
    page.screenshot("cancel-all")
    browser_page.wait_for_function(
        "() => document.querySelector('.pane[data-method=kernel_shap]').dataset.status"
        " === 'cancelled'",
        timeout=30_000,
    )
    again = pane.locator("button.again")
    assert again.is_visible()
    again.click()
    wait_panes_done(browser_page, 1)
    assert not again.is_visible()
    assert pane.locator("div.legend").is_visible()
    assert page.errors == [] and page.dialogs == []
