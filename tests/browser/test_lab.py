"""The Shapes lab page in chromium: run a quick experiment, see its table; few-shot from uploads."""

import pytest

from tests.api.helpers import solid_png

pytestmark = pytest.mark.browser


def test_run_an_experiment_and_classify_from_examples(page, server_url) -> None:
    browser_page = page.page
    browser_page.goto(server_url + "/lab")
    section = browser_page.locator('section[data-experiment="fewshot"]')
    section.locator('input[name="shots"]').fill("1")
    section.locator('input[name="test_images"]').fill("10")
    section.locator('button[type="submit"]').click()
    section.locator(".results p").wait_for()
    assert "test accuracy" in section.locator(".results").inner_text()
    assert "done in" in section.locator(".status").inner_text()
    page.screenshot("fewshot-experiment")

    for label, colour in (("red", (220, 30, 30)), ("blue", (30, 30, 220))):
        browser_page.fill("#example-label", label)
        files = [
            {"name": f"{label}{i}.png", "mimeType": "image/png", "buffer": solid_png(colour, i, 64)}
            for i in range(2)
        ]
        browser_page.set_input_files("#example-files", files=files)
        browser_page.click('#example-form button[type="submit"]')
        browser_page.wait_for_function(
            "(n) => document.querySelectorAll('#examples .example').length >= n",
            arg=2 if label == "red" else 4,
        )
    browser_page.set_input_files(
        "#file",
        files=[
            {
                "name": "query.png",
                "mimeType": "image/png",
                "buffer": solid_png((30, 40, 210), 7, 64),
            }
        ],
    )
    browser_page.locator("#fewshot-result .prediction").wait_for()
    assert browser_page.locator("#fewshot-result .prediction").inner_text() == "Predicted: blue"
    assert browser_page.locator("#fewshot-result .example").count() == 1
    page.screenshot("fewshot-yours")
    assert page.errors == [] and page.dialogs == []
