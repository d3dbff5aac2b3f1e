"""The dashboard in a real browser, on the default model and the sample cat photo."""

import re
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

DEFAULT_PANEL = ["occlusion", "saliency", "guided_backprop", "grad_cam", "kernel_shap"]

# Spread of the red channel of a loaded <img>: 0 for a blank or single-colour picture.
IMAGE_SPREAD = """(image) => {
  if (!image.complete || !image.naturalWidth) return -1;
  const canvas = document.createElement("canvas");
  canvas.width = image.naturalWidth; canvas.height = image.naturalHeight;
  const context = canvas.getContext("2d");
  context.drawImage(image, 0, 0);
  const data = context.getImageData(0, 0, canvas.width, canvas.height).data;
  let low = 255, high = 0;
  for (let i = 0; i < data.length; i += 4) {
    low = Math.min(low, data[i]);
    high = Math.max(high, data[i]);
  }
  return high - low;
}"""


def wait_panes_done(page, count: int) -> None:
    page.wait_for_function(
        "(n) => document.querySelectorAll('.pane[data-status=done]').length >= n"
        " && !document.querySelector('.pane[data-status=running]')",
        arg=count,
    )


def heat_spread(page, method: str) -> int:
    heat = page.locator(f'.pane[data-method="{method}"] img.heat')
    page.wait_for_function(
        "(image) => image.complete && image.naturalWidth > 0", arg=heat.element_handle()
    )
    spread: int = heat.evaluate(IMAGE_SPREAD)
    return spread


def click_row(page, label: str) -> None:
    """Choose `label` in the top-5 rows."""
    page.locator("#predictions .row", has_text=label).first.click()


def test_explain_compare_retarget_and_report(page, server_url, tmp_path) -> None:
    browser_page = page.page
    browser_page.goto(server_url)
    started = time.monotonic()
    browser_page.click('.sample[data-name="chelsea"]')
    wait_panes_done(browser_page, len(DEFAULT_PANEL))
    print(f"upload to five panes: {time.monotonic() - started:.1f} s")
    shown = browser_page.locator(".pane").evaluate_all("(ps) => ps.map((p) => p.dataset.method)")
    assert shown == DEFAULT_PANEL
    for method in DEFAULT_PANEL:
        assert heat_spread(browser_page, method) > 40, f"{method}: the map is blank"
        pane = browser_page.locator(f'.pane[data-method="{method}"]')
        meta = pane.locator(".meta").inner_text()
        assert re.match(r"Egyptian cat · \d+ % · \d+( ms|\.\d s) on cpu", meta), meta
        assert "Egyptian cat" in pane.locator(".map-caption").inner_text()
        assert pane.locator(".legend .ramp").is_visible()
    assert "Egyptian cat" in browser_page.locator("#target-info").inner_text()
    page.screenshot("five-panes")

    # Grad-CAM's layer field offers the model's layers, its default first.
    browser_page.wait_for_function(
        "() => document.querySelectorAll('.pane[data-method=grad_cam] .params datalist option')"
        ".length > 10"
    )
    options = browser_page.locator('.pane[data-method="grad_cam"] .params datalist option')
    assert options.first.evaluate("(option) => option.value") == "_conv_head"

    # Every pane gets its scorecard once all maps are done: a verdict in words, the tests'
    # explainers under "What does this mean?", the numbers and curves under Details; the sanity
    # check runs at once for the one-pass methods (a button for the slow ones).
    browser_page.wait_for_function(
        "() => document.querySelectorAll('.scorecard .faith[data-deletion-auc]').length === 5"
        " && document.querySelectorAll('.scorecard .sanity[data-passes]').length === 3"
    )
    sanity = {
        method: browser_page.locator(f'.pane[data-method="{method}"] .sanity').get_attribute(
            "data-passes"
        )
        for method in ("saliency", "guided_backprop", "grad_cam")
    }
    assert sanity["saliency"] == "true" and sanity["guided_backprop"] == "false"
    levels = {"trust", "caution", "distrust", "inconclusive"}
    for method in DEFAULT_PANEL:
        line = browser_page.locator(f'.pane[data-method="{method}"] .verdict-line')
        assert line.get_attribute("data-level") in levels
        assert "AUC" not in line.inner_text()  # words, not metric names
    guided = browser_page.locator('.pane[data-method="guided_backprop"] .verdict-line')
    assert guided.get_attribute("data-level") == "distrust"  # the worse of the two tests
    assert guided.inner_text().startswith("Don't trust this map")
    assert browser_page.locator('.pane[data-method="occlusion"] .sanity-action button').is_visible()
    explainer = browser_page.locator('.pane[data-method="guided_backprop"] details.explainer')
    explainer.locator("summary").click()
    assert "scramble the model" in explainer.inner_text()
    details = browser_page.locator('.pane[data-method="guided_backprop"] details.score-details')
    details.locator("summary").click()
    assert details.locator(".strip img").count() == 8
    assert details.locator(".curves .main-svg").count() > 0
    page.screenshot("scorecards")

    # The opacity slider changes every overlay at once.
    stage = browser_page.locator('.pane[data-method="grad_cam"] .stage')
    before = stage.screenshot()
    browser_page.locator("#opacity").fill("0.95")
    for method in DEFAULT_PANEL:
        opacity = browser_page.locator(f'.pane[data-method="{method}"] img.heat').evaluate(
            "(image) => getComputedStyle(image).opacity"
        )
        assert float(opacity) == pytest.approx(0.95)
    assert stage.screenshot() != before
    page.screenshot("opacity")

    # Hovering a pane shows the value under the cursor.
    stage.hover()
    assert re.match(
        r"value at \(\d+, \d+\): ",
        browser_page.locator('.pane[data-method="grad_cam"] .readout').inner_text(),
    )

    # Choosing another class recomputes every pane for it.
    click_row(browser_page, "tabby")
    browser_page.wait_for_function(
        "() => [...document.querySelectorAll('.pane .meta')]"
        ".every((meta) => meta.textContent.startsWith('tabby · '))"
    )
    wait_panes_done(browser_page, len(DEFAULT_PANEL))
    assert "tabby" in browser_page.locator("#target-info").inner_text()
    page.screenshot("retargeted-tabby")

    # The report: one picture per pane plus the photo, and nothing fetched from outside.
    with browser_page.expect_download() as download_info:
        browser_page.click("#report")
    report = Path(tmp_path / "report.html")
    download_info.value.save_as(report)
    html = report.read_text(encoding="utf-8")
    sources = re.findall(r'<img src="([^"]*)"', html)
    assert len(sources) == len(DEFAULT_PANEL) + 1
    assert all(source.startswith("data:image/png;base64,") for source in sources)
    assert not re.search(r"https?://", html)
    assert html.count("tabby (281)") == len(DEFAULT_PANEL)

    # Present opens the story over the page; Esc leaves it.
    browser_page.click("#present")
    browser_page.locator(".story").wait_for(state="visible")
    page.screenshot("presentation")
    browser_page.keyboard.press("Escape")
    assert browser_page.locator(".story").count() == 0
    assert browser_page.locator("#methods").is_visible()
    assert page.errors == [] and page.dialogs == []


def test_bad_files_show_a_banner_and_lose_nothing(page, server_url) -> None:
    browser_page = page.page
    browser_page.goto(server_url)
    browser_page.click('.sample[data-name="coffee"]')
    wait_panes_done(browser_page, len(DEFAULT_PANEL))
    browser_page.set_input_files(
        "#file", files=[{"name": "notes.png", "mimeType": "image/png", "buffer": b"not a picture"}]
    )
    banner = browser_page.locator("#banner")
    banner.wait_for(state="visible")
    assert "not an image Lantern can read" in banner.inner_text()
    assert browser_page.locator(".pane[data-status=done]").count() == len(DEFAULT_PANEL)
    assert browser_page.locator("#image-name").inner_text() == "coffee"
    page.screenshot("bad-file-banner")

    # A hostile file name is shown as text: no dialog, no page error.
    from tests.api.helpers import png_bytes

    hostile = '"><img src=x onerror=alert(1)>.png'
    browser_page.set_input_files(
        "#file", files=[{"name": hostile, "mimeType": "image/png", "buffer": png_bytes(300, 260)}]
    )
    # (Browsers send '"' in a multipart file name as %22.)
    browser_page.wait_for_function(
        "() => document.getElementById('image-name').textContent"
        ".endsWith('><img src=x onerror=alert(1)>.png')"
    )
    assert browser_page.locator("#image-name img").count() == 0
    page.screenshot("hostile-name")
    assert page.errors == [] and page.dialogs == []


def test_attack_flips_the_prediction(page, server_url) -> None:
    browser_page = page.page
    browser_page.goto(f"{server_url}/attack")
    browser_page.click('.sample[data-name="chelsea"]')
    browser_page.wait_for_function("() => !document.getElementById('run-attack').disabled")
    browser_page.locator("#epsilon").fill("8")
    assert "8/255" in browser_page.locator("#epsilon-text").inner_text()
    browser_page.click("#run-attack")
    verdict = browser_page.locator("#verdict")
    verdict.wait_for(state="visible")
    browser_page.wait_for_function("() => document.getElementById('verdict').textContent !== ''")
    assert verdict.inner_text().startswith("The prediction flipped: Egyptian cat → ")
    before = browser_page.locator("#original-caption").inner_text()
    after = browser_page.locator("#adversarial-caption").inner_text()
    assert re.match(r"original: Egyptian cat \(\d+ %\)", before), before
    assert after.startswith("attacked: ") and "Egyptian cat" not in after
    assert re.search(
        r"magnified × \d+\.\d", browser_page.locator("#perturbation-caption").inner_text()
    )
    wait_panes_done(browser_page, 4)
    for side in ("original", "attacked"):
        for method in ("grad_cam", "saliency"):
            pane = browser_page.locator(f'.pane[data-method="{method}"][data-side="{side}"]')
            assert pane.locator(".meta").inner_text() != ""
    page.screenshot("attack")
    assert page.errors == [] and page.dialogs == []


def test_shapley_page_shows_the_lecture_example_and_a_shap_map(page, server_url) -> None:
    browser_page = page.page
    browser_page.goto(f"{server_url}/shapley")
    values = browser_page.locator("#orderings tfoot td[data-player]").all_inner_texts()
    assert values == ["180", "360", "460"]
    browser_page.click('.sample[data-name="chelsea"]')
    wait_panes_done(browser_page, 1)
    assert heat_spread(browser_page, "kernel_shap") > 40
    page.screenshot("shapley")
    browser_page.click("#present")  # the story: the game, the fair shares, the credit on the photo
    story = browser_page.locator(".story")
    story.wait_for(state="visible")
    assert story.locator(".slide #coalitions").count() == 1
    browser_page.keyboard.press("ArrowRight")
    assert story.locator(".slide #orderings").count() == 1
    browser_page.keyboard.press("ArrowRight")
    assert story.locator(".counter").inner_text() == "3 / 3"
    assert "same credit on the photo" in story.locator(".slide h2").inner_text()
    assert story.locator(".slide .legend, .slide .colour-bar, .slide figcaption").count() >= 1
    page.screenshot("shapley-story")
    browser_page.keyboard.press("Escape")
    assert page.errors == []
