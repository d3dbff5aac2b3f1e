"""The compression page in chromium: run one quick variant on the cat photo, then see the
measured table, the charts and each row's maps; a bad parameter shows a banner."""

import pytest

pytestmark = pytest.mark.browser


def test_run_a_quick_recipe_and_see_the_table_charts_and_maps(page, server_url) -> None:
    browser_page = page.page
    browser_page.goto(server_url + "/compress")
    browser_page.locator("#samples button").first.click()  # chelsea, the cat
    browser_page.locator("#view-figure:not([hidden])").wait_for()
    variants = browser_page.locator("#variants .variant")
    variants.first.wait_for()
    while variants.count() > 1:  # keep the first default: int8, one scale per tensor
        variants.last.locator("legend button").click()
    options = browser_page.locator("#run-options")
    options.locator('input[value="occlusion"]').uncheck()
    options.locator('input[name="drift_images"]').fill("1")
    options.locator('input[name="augmentations"]').fill("1")
    options.locator('input[name="latency_repeats"]').fill("3")
    page.screenshot("setup")
    # After a full-page screenshot of a scrolled page, chromium can drop the next click.
    browser_page.evaluate("window.scrollTo(0, 0)")
    browser_page.click("#run")
    table = browser_page.locator(".compress-table")
    table.wait_for(timeout=300_000)
    rows = table.locator("tbody tr")
    assert rows.count() == 2
    assert rows.nth(0).locator("td").first.inner_text() == "original"
    assert "int8_static (per_channel=False)" in rows.nth(1).inner_text()
    assert "ONNX Runtime int8" in rows.nth(1).inner_text()
    browser_page.locator(".compress-chart .plot-container").first.wait_for()
    assert browser_page.locator(".compress-chart").count() >= 2  # size/latency and histogram
    maps = browser_page.locator(".compress-maps img")
    assert maps.count() == 4  # (original, int8) × (saliency, grad_cam)
    browser_page.wait_for_function(
        "() => [...document.querySelectorAll('.compress-maps img')]"
        ".every((i) => i.complete && i.naturalWidth > 0)"
    )
    assert "done in" in browser_page.locator("#run-status").inner_text()
    page.screenshot("results")

    # A bad parameter: the server's message in the banner, the results stay.
    browser_page.locator("#variants .variant input[name='percentile']").fill("5")
    browser_page.evaluate("window.scrollTo(0, 0)")
    browser_page.click("#run")
    banner = browser_page.locator("#banner")
    banner.wait_for()
    assert "percentile" in banner.inner_text()
    assert browser_page.locator(".compress-table tbody tr").count() == 2
    page.screenshot("bad-parameter")
    assert page.errors == [] and page.dialogs == []
