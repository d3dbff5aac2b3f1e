"""The compression page in chromium: run one quick variant on the cat photo (the quick preset,
an estimate before it runs), then see the measured table with the best variant marked, the
charts labelled by variant, each row's maps and the report; a bad parameter shows a banner."""

import pytest

from tests.browser.report_checks import download_report

pytestmark = pytest.mark.browser


def test_run_a_quick_recipe_and_see_the_table_charts_and_maps(page, server_url, tmp_path) -> None:
    browser_page = page.page
    browser_page.goto(server_url + "/compress")
    browser_page.click('.sample[data-name="chelsea"]')  # the cat
    browser_page.locator("#view-figure:not([hidden])").wait_for()
    variants = browser_page.locator("#variants .variant")
    variants.first.wait_for()
    while variants.count() > 1:  # keep the first default: int8, one scale per tensor
        variants.last.locator("legend button").click()
    estimate = browser_page.locator("#run-estimate")
    assert "Estimated time: about" in estimate.inner_text()
    standard = estimate.inner_text()
    assert browser_page.locator("#variants .variant .recipe-about").first.inner_text()
    assert not browser_page.locator("#variants .variant-settings").first.get_attribute("open")
    browser_page.select_option("#preset", "quick")  # 1 drift image, 1 augmentation, 3 repeats
    options = browser_page.locator("#run-options")
    options.locator('input[value="occlusion"]').uncheck()
    assert estimate.inner_text() != standard
    assert options.locator('input[name="latency_repeats"]').input_value() == "3"
    page.screenshot("setup")
    # After a full-page screenshot of a scrolled page, chromium can drop the next click.
    browser_page.evaluate("window.scrollTo(0, 0)")
    browser_page.click("#run")
    table = browser_page.locator(".compress-table")
    table.wait_for(timeout=300_000)
    rows = table.locator("tbody tr")
    assert rows.count() == 2
    assert rows.nth(0).locator("td").first.inner_text() == "original"
    variant = rows.nth(1).inner_text()
    assert "int8 static (ONNX Runtime QDQ) (per channel: no)" in variant  # titles, not names
    assert "ONNX Runtime int8" in variant and "★ best" in variant
    assert "Best: int8 static" in browser_page.locator("#results").inner_text()
    assert "Vanilla gradient drift" in table.locator("thead").inner_text()
    browser_page.locator(".compress-chart .plot-container").first.wait_for()
    assert browser_page.locator(".compress-chart").count() >= 2  # size/latency and histogram
    maps = browser_page.locator(".compress-maps img")
    assert maps.count() == 4  # (original, int8) × (saliency, grad_cam)
    browser_page.wait_for_function(
        "() => [...document.querySelectorAll('.compress-maps img')]"
        ".every((i) => i.complete && i.naturalWidth > 0)"
    )
    assert "done in" in browser_page.locator("#run-status").inner_text()
    print(estimate.inner_text(), "|", browser_page.locator("#run-status").inner_text())
    labels = browser_page.locator(".compress-chart .textpoint text").evaluate_all(
        "(texts) => texts.map((text) => text.textContent)"
    )
    assert "original" in labels and any("per channel: no" in label for label in labels)
    page.screenshot("results")

    filename, html = download_report(page, "#page-report", tmp_path)
    assert filename.startswith("lantern-compress-")
    assert "Best: int8 static" in html and "per channel: no" in html and "Grad-CAM" in html
    assert html.count("<img") >= 4 + 2  # the maps and the charts

    # A bad parameter: the server's message in the banner, the results stay.
    browser_page.locator("#variants .variant-settings summary").first.click()
    browser_page.locator("#variants .variant input[name='percentile']").fill("5")
    browser_page.evaluate("window.scrollTo(0, 0)")
    browser_page.click("#run")
    banner = browser_page.locator("#banner")
    banner.wait_for()
    assert "percentile" in banner.inner_text()
    assert browser_page.locator(".compress-table tbody tr").count() == 2
    page.screenshot("bad-parameter")
    assert page.errors == [] and page.dialogs == []
