"""The concept explorer in Debian's chromium, on the default model: an index of the five sample
photos at one layer (top 3), its channel grid, a channel's page opened by its URL (exemplars,
histogram, classes, its map on the current image with a colour bar, a tiny feature
visualisation), keyboard navigation, WCAG 2.1 AA by axe-core, and the README's screenshots."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.concepts.index import build_index, index_folder, write_index
from app.imaging import SAMPLES, sample_image
from app.main import create_app
from app.settings import Settings
from app.zoo import LoadedModel, load_model
from app.zoo.pool import ModelPool
from tests.browser.axe_checks import severe_violations
from tests.browser.fixtures import serving
from tests.browser.screenshots import save_for_readme

pytestmark = pytest.mark.browser

MODEL = "efficientnet-lite0"
LAYER = "_blocks.2._expand_conv"


@pytest.fixture(scope="module")
def explorer_url(
    tmp_path_factory: pytest.TempPathFactory, default_model: LoadedModel
) -> Iterator[str]:
    settings = Settings(device="cpu", data_dir=Path(tmp_path_factory.mktemp("concepts")))
    model = default_model  # the session's copy: loaded once for every test that needs it
    images = [(name, model.preprocessing.model_view(sample_image(name))) for name in SAMPLES]
    index = build_index(model, images, [LAYER], top=3, data="the sample photos")
    write_index(index, index_folder(settings, MODEL))
    with serving(create_app(settings, ModelPool(settings, load_model, preloaded=[model]))) as url:
        yield url


def test_explore_the_channels_of_a_layer(page, explorer_url: str) -> None:  # type: ignore[no-untyped-def]
    browser_page = page.page
    browser_page.goto(f"{explorer_url}/concepts?model={MODEL}")
    browser_page.wait_for_selector("#channels .channel-card img")
    assert browser_page.locator("#layers button.indexed").all_inner_texts() == [LAYER]
    assert browser_page.get_attribute("#layers button.indexed", "aria-pressed") == "true"
    rail = browser_page.locator("#layers button").all_inner_texts()
    assert rail.index("_conv_stem") < rail.index(LAYER) < rail.index("_conv_head")  # stem → head
    assert (
        "144 channels of _blocks.2._expand_conv on 5 reference images"
        in browser_page.inner_text("#grid-info")
    )
    assert browser_page.locator("#channels .channel-card").count() == 48  # one page of the grid
    assert browser_page.locator("#channels .channel-card").first.locator("img").count() == 3
    browser_page.click("#more")
    assert browser_page.locator("#channels .channel-card").count() == 96
    assert severe_violations(browser_page, "concepts-grid") == []
    save_for_readme(browser_page, "concepts-explorer.png")
    page.screenshot("grid")

    # A layer outside the index offers the form that builds one, with that layer ticked (and
    # the indexed one, which a new index would otherwise drop).
    browser_page.click("#layers button >> text=_conv_head")
    assert browser_page.is_visible("#build-form")
    assert browser_page.locator("#build-layers input:checked").evaluate_all(
        "boxes => boxes.map(b => b.value)"
    ) == [LAYER, "_conv_head"]
    browser_page.click(f"#layers button >> text={LAYER}")

    # The keyboard opens a channel: its card is a link.
    browser_page.focus("#channels .channel-card a >> nth=3")
    browser_page.keyboard.press("Enter")
    browser_page.wait_for_url(f"**/concepts/{MODEL}/{LAYER}/3")
    browser_page.wait_for_selector("#channel-page[data-ready]")
    assert page.errors == []


def test_a_channel_page_by_its_url(page, explorer_url: str) -> None:  # type: ignore[no-untyped-def]
    browser_page = page.page
    browser_page.goto(f"{explorer_url}/")  # the workspace's current image: a sample photo
    browser_page.evaluate(
        """async () => {
            const response = await fetch('/api/images/samples/chelsea?model=efficientnet-lite0',
                                         { method: 'POST' });
            sessionStorage.setItem('lantern.image', (await response.json()).id);
        }"""
    )
    browser_page.goto(f"{explorer_url}/concepts/{MODEL}/{LAYER}/7")
    browser_page.wait_for_selector("#channel-page[data-ready]")
    opened_ms = int(browser_page.get_attribute("#channel-page", "data-loaded-ms") or "0")
    timing = browser_page.evaluate("performance.getEntriesByType('navigation')[0].toJSON()")
    print(f"channel page: data in {opened_ms} ms, load event at {timing['loadEventEnd']:.0f} ms")
    assert opened_ms < 1000 and timing["loadEventEnd"] < 3000  # generous: a loaded machine

    assert browser_page.inner_text("h1") == f"Channel 7 of {LAYER}"
    assert browser_page.locator("#exemplars figure img").count() == 3
    browser_page.wait_for_function(
        "() => [...document.querySelectorAll('#exemplars img')].every(i => i.naturalWidth > 0)"
    )
    captions = browser_page.locator("#exemplars figcaption").all_inner_texts()
    assert all("box [" in caption for caption in captions)
    assert (
        browser_page.locator("#histogram .js-plotly-plot, #histogram.js-plotly-plot").count() == 1
    )
    assert "of the 5 reference images" in browser_page.inner_text("#histogram-caption")
    assert browser_page.locator("#classes tbody tr").count() >= 1

    # Its map on the current image: the colour bar is drawn under the map, a caption says what
    # the colours mean.
    browser_page.wait_for_selector("#map-figure:not([hidden])")
    size = browser_page.evaluate("() => [map.naturalWidth, map.naturalHeight]")
    assert size[1] > size[0] == 224  # the legend's strip under the 224 × 224 map
    assert "the bar under the map gives the scale" in browser_page.inner_text("#map-caption")

    # A tiny feature visualisation: a job, then its image with steps, size and seconds.
    browser_page.fill("#steps", "4")
    browser_page.fill("#size", "64")
    browser_page.click("#visualise")
    browser_page.wait_for_selector("#visualisation-figure:not([hidden])")
    caption = browser_page.inner_text("#visualisation-caption")
    assert "4 steps at 64 × 64 px in" in caption
    assert browser_page.evaluate("() => visualisation.naturalWidth") == 64
    assert severe_violations(browser_page, "concepts-channel") == []
    browser_page.evaluate("window.scrollTo(0, 0)")
    save_for_readme(browser_page, "concepts-channel.png", full_page=True)
    page.screenshot("channel")

    # Previous and next channel are links; the page's report holds its sections.
    assert browser_page.get_attribute("#next", "href") == f"/concepts/{MODEL}/{LAYER}/8"
    with browser_page.expect_download() as download:
        browser_page.click("#page-report")
    html = Path(download.value.path()).read_text(encoding="utf-8")
    assert "Exemplars" in html and "Feature visualisation" in html
    assert html.count("data:image/png") >= 5

    # At phone width nothing scrolls sideways.
    browser_page.set_viewport_size({"width": 390, "height": 844})
    browser_page.reload()
    browser_page.wait_for_selector("#channel-page[data-ready]")
    assert browser_page.evaluate("() => document.scrollingElement.scrollWidth") <= 390
    assert page.errors == []


def test_the_concepts_pane_on_the_explain_page(page, explorer_url: str) -> None:  # type: ignore[no-untyped-def]
    browser_page = page.page
    browser_page.goto(f"{explorer_url}/?sample=chelsea&methods=saliency")
    browser_page.wait_for_selector(".pane[data-status='done']")
    browser_page.click("#concepts-pane summary")
    browser_page.wait_for_selector(
        "#concepts-pane[data-status='done'] .concept-channel", timeout=120_000
    )
    assert browser_page.input_value("#concept-layer") == LAYER  # the indexed layer first
    figures = browser_page.locator("#concepts-pane .concept-channel")
    assert figures.count() == 5
    assert "gradient × activation" in browser_page.inner_text("#concept-method")
    assert browser_page.is_enabled("#class-visualise")  # the class's own picture, on demand
    first = figures.first
    assert (
        first.locator(".legend").count() == 1 and "against" in first.locator(".legend").inner_text()
    )
    assert "sums to the channel's contribution" in first.locator("figcaption").inner_text()
    assert first.locator(".concept-exemplars img").count() == 3  # from the index: top 3
    href = first.locator("h3 a").get_attribute("href") or ""
    assert href.startswith(f"/concepts/{MODEL}/{LAYER}/")
    assert severe_violations(browser_page, "concepts-pane") == []
    page.screenshot("explain-concepts")
    browser_page.locator("#concepts-pane").scroll_into_view_if_needed()
    save_for_readme(browser_page, "concepts-pane.png")
    with browser_page.expect_download() as download:
        browser_page.click("#concept-report")
    html = Path(download.value.path()).read_text(encoding="utf-8")
    assert f"at {LAYER}" in html and html.count("data:image/png") >= 5
    assert "gradient × activation" in html
    first.locator("h3 a").click()
    browser_page.wait_for_selector("#channel-page[data-ready]")
    assert page.errors == []


def test_build_an_index_from_the_page(page, explorer_url: str) -> None:  # type: ignore[no-untyped-def]
    """Last: it replaces the index the other tests read."""
    browser_page = page.page
    browser_page.goto(f"{explorer_url}/concepts?model={MODEL}")
    browser_page.wait_for_selector("#channels .channel-card")
    browser_page.click("#layers button >> text=_blocks.1._expand_conv")
    browser_page.check('input[name="source"][value="shapes"]')
    browser_page.fill("#shapes-count", "4")
    browser_page.fill("#top", "2")
    browser_page.click("#build")
    early = "#layers button.indexed >> text=_blocks.1._expand_conv"
    browser_page.wait_for_selector(early, timeout=240_000)
    info = browser_page.inner_text("#grid-info")
    assert "96 channels of _blocks.1._expand_conv on 4 reference images (shapes:4)" in info
    assert browser_page.locator("#channels .channel-card").first.locator("img").count() == 2
    assert browser_page.locator("#layers button.indexed").count() == 2
    assert page.errors == []
