"""The Shapes lab page in chromium: each experiment says what it shows and estimates its time;
run a quick one, see its table; few-shot from uploads; the page's report."""

import pytest

from tests.api.helpers import solid_png
from tests.browser.report_checks import download_report

pytestmark = pytest.mark.browser


def test_run_an_experiment_and_classify_from_examples(page, server_url, tmp_path) -> None:
    browser_page = page.page
    browser_page.goto(server_url + "/lab")
    section = browser_page.locator('section[data-experiment="fewshot"]')
    section.locator(".estimate").wait_for()
    for experiment in browser_page.locator("section.experiment").all():
        assert len(experiment.locator(".about").inner_text()) > 20  # one sentence on what it shows
        assert "Estimated time: about" in experiment.locator(".estimate").inner_text()
        assert not experiment.locator("details.params").get_attribute("open")  # settings folded
    before = section.locator(".estimate").inner_text()
    section.locator('select[name="preset"]').select_option("quick")
    assert section.locator(".estimate").inner_text() != before
    section.locator("details.params summary").click()
    section.locator('input[name="shots"]').fill("1")
    section.locator('input[name="test_images"]').fill("10")
    section.locator(".run-line button").click()
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

    filename, html = download_report(page, "#page-report", tmp_path)
    assert filename.startswith("lantern-lab-shapes-")
    assert "Few-shot" in html and "test accuracy" in html and "Predicted: blue" in html
    assert "K-nearest neighbours on pretrained features" in html  # what the experiment shows
    assert page.errors == [] and page.dialogs == []
