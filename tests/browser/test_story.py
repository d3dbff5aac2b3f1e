"""Story mode (Present as slides, stepped with the keyboard) and the attack page's live ε."""

import re

import pytest

from tests.browser.screenshots import save_for_readme
from tests.browser.test_dashboard import DEFAULT_PANEL, wait_panes_done

pytestmark = pytest.mark.browser


def test_story_mode_steps_with_the_keyboard(page, server_url) -> None:
    browser_page = page.page
    browser_page.set_viewport_size({"width": 1440, "height": 900})
    browser_page.goto(f"{server_url}/?sample=coffee")
    wait_panes_done(browser_page, len(DEFAULT_PANEL))
    # The verdicts come with the scorecards (the one-pass methods' sanity checks included).
    browser_page.wait_for_function(
        "() => document.querySelectorAll('.scorecard .verdict-line[data-level]').length === 5"
    )
    browser_page.click("#present")
    story = browser_page.locator(".story")
    story.wait_for(state="visible")
    counter = story.locator(".counter")
    assert counter.inner_text() == "1 / 3"
    heading = story.locator(".slide h2").inner_text()
    assert re.fullmatch(r"The model says: espresso \(\d+ %\)", heading), heading
    assert story.locator(".story-picture img").count() == 1

    browser_page.keyboard.press("ArrowRight")
    assert counter.inner_text() == "2 / 3"
    maps = story.locator(".story-maps figure")
    assert maps.count() == 2
    for index in range(2):
        figure = maps.nth(index)
        assert "mode=layer" in figure.locator("img.heat").get_attribute("src")
        assert figure.locator(".legend .ramp").is_visible()
        assert "espresso" in figure.locator("figcaption").inner_text()
    story.locator(".story-picture img.heat").first.evaluate(
        "(image) => image.decode()"
    )  # drawn before the screenshot
    save_for_readme(browser_page, "story.png")
    page.screenshot("story-maps")

    browser_page.keyboard.press("PageDown")
    assert counter.inner_text() == "3 / 3"
    assert story.locator(".slide h2").inner_text() == "Can we trust these maps?"
    verdicts = story.locator(".story-verdicts li")
    assert verdicts.count() == 5
    text = " ".join(verdicts.all_inner_texts())
    for jargon in ("AUC", "params", "=null", "Spearman"):
        assert jargon not in text
    browser_page.keyboard.press("ArrowRight")  # the last slide stays
    assert counter.inner_text() == "3 / 3"
    browser_page.keyboard.press("ArrowLeft")
    assert counter.inner_text() == "2 / 3"
    story.locator("button.previous").click()
    assert counter.inner_text() == "1 / 3"
    browser_page.keyboard.press("Escape")
    assert story.count() == 0
    assert browser_page.evaluate("() => document.activeElement.id") == "present"
    assert page.errors == [] and page.dialogs == []


def test_attack_epsilon_is_live_and_the_story_shows_the_flip(page, server_url) -> None:
    browser_page = page.page
    browser_page.goto(f"{server_url}/attack?sample=chelsea&attack=fgsm&eps=8&methods=grad_cam")
    verdict = browser_page.locator("#verdict")
    browser_page.wait_for_function("() => document.getElementById('verdict').textContent !== ''")
    assert verdict.inner_text().startswith("The prediction flipped: Egyptian cat → ")
    status = browser_page.locator("#attack-status")
    assert status.get_attribute("data-shown-epsilon") == "8"

    # Moving the slider attacks again, without a click: ε = 0 changes nothing.
    browser_page.locator("#epsilon").fill("0")
    browser_page.wait_for_function(
        "() => document.getElementById('attack-status').dataset.shownEpsilon === '0'"
    )
    assert verdict.inner_text().startswith("The prediction held: still Egyptian cat")
    assert "eps=0" in browser_page.url
    browser_page.locator("#epsilon").fill("4")
    browser_page.wait_for_function(
        "() => document.getElementById('attack-status').dataset.shownEpsilon === '4'"
    )
    wait_panes_done(browser_page, 2)
    for side in ("original", "attacked"):
        pane = browser_page.locator(f'.pane[data-method="grad_cam"][data-side="{side}"]')
        assert pane.locator(".legend .ramp").is_visible()
        assert pane.locator(".map-caption").inner_text() != ""

    # "Make it a …": a targeted attack towards one of the image's other likely classes.
    options = browser_page.locator("#make-it option").all_inner_texts()
    assert len(options) == 5 and options[1].startswith("Make it a ")
    wanted = options[1].removeprefix("Make it a ")
    browser_page.select_option("#make-it", index=1)
    browser_page.wait_for_function(
        "(label) => document.getElementById('verdict').textContent.includes('target')", arg=wanted
    )
    assert browser_page.locator("#attack-target").input_value() == wanted
    page.screenshot("targeted")

    browser_page.locator("#epsilon").fill("8")
    browser_page.select_option("#attack-method", "fgsm")
    browser_page.wait_for_function(
        "() => document.getElementById('verdict').textContent.startsWith('The prediction flipped')"
        " && document.getElementById('attack-status').dataset.shownEpsilon === '8'"
    )
    browser_page.click("#present")
    story = browser_page.locator(".story")
    story.wait_for(state="visible")
    browser_page.keyboard.press("ArrowRight")
    flip = story.locator(".slide h2").inner_text()
    assert flip.startswith("A change you cannot see: now it says "), flip
    assert story.locator(".story-maps figure").count() == 2
    page.screenshot("attack-story")
    browser_page.keyboard.press("Escape")
    assert story.count() == 0
    assert page.errors == [] and page.dialogs == []
