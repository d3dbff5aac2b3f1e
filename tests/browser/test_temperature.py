"""The Explain page's temperature control: moving it (by keyboard) re-scales the top-5 bars and
shows the entropy of the softmax over every class, equal to app/stats.py's on the probabilities
the server gives, rising with T; the class being explained stays."""

import json
import urllib.request

import numpy as np
import pytest

from app import stats

pytestmark = pytest.mark.browser


def _entropy_at(server_url: str, temperature: float) -> float:
    """app/stats.py on every class's probability of the coffee sample (log p = the logits up to
    a constant)."""
    request = urllib.request.Request(f"{server_url}/api/images/samples/coffee?top=1000", b"")
    with urllib.request.urlopen(request) as response:
        predictions = json.load(response)["predictions"]
    probabilities = np.zeros(len(predictions))
    for prediction in predictions:
        probabilities[prediction["index"]] = prediction["probability"]
    with np.errstate(divide="ignore"):
        logits = np.log(probabilities)[None]
    return float(stats.entropy(stats.softmax(logits, temperature))[0])


def test_temperature_shows_the_softmax_entropy_and_keeps_the_class(page, server_url) -> None:
    browser_page = page.page
    browser_page.goto(f"{server_url}/?sample=coffee&methods=saliency")
    line = browser_page.locator("#temperature-entropy")
    browser_page.wait_for_function(
        "() => document.getElementById('temperature-entropy').dataset.entropy !== undefined"
    )
    before = browser_page.locator("#target-info").inner_text()
    first_bar = browser_page.locator("#predictions .row .value").first
    confident = first_bar.inner_text()
    assert float(line.get_attribute("data-temperature")) == 1.0
    at_one = float(line.get_attribute("data-entropy"))
    assert at_one == pytest.approx(_entropy_at(server_url, 1.0), abs=1e-6)

    slider = browser_page.locator("#temperature")
    slider.focus()
    for _ in range(4):  # four steps of 0.25 in log2 T: T = 2
        browser_page.keyboard.press("ArrowRight")
    browser_page.wait_for_function(
        "() => document.getElementById('temperature-entropy').dataset.temperature === '2'"
    )
    at_two = float(line.get_attribute("data-entropy"))
    assert at_two == pytest.approx(_entropy_at(server_url, 2.0), abs=1e-6)
    assert at_two > at_one
    assert "T = 2.00" in line.inner_text() and "nats" in line.inner_text()
    assert slider.get_attribute("aria-valuetext") == "T = 2.00"
    assert first_bar.inner_text() != confident  # the top bar's probability flattened
    assert browser_page.locator("#target-info").inner_text() == before  # display only
