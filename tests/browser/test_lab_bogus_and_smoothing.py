"""The Shapes lab page draws the label-smoothing report (its table with the seed spread, the
reliability diagram with the diagonal, the confidence histogram and the entropy against T, each
with its sentence) and the bogus model's (train and test accuracy against the control, each
method's similarity to the bogus and to an honest model's map), and stays WCAG AA."""

import dataclasses

import numpy as np
import pytest

from app.shapes.calibration_experiment import TEMPERATURES, CalibrationReport, _score
from app.shapes.random_labels import MethodSimilarity, RandomLabelsReport, RandomLabelsRun
from app.shapes.seeds import spread
from tests.browser.axe_checks import severe_violations
from tests.browser.lab_reports import open_lab_with

pytestmark = pytest.mark.browser


def _calibration() -> CalibrationReport:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, 60)
    runs = [
        _score(seed, smoothing, rng.normal(0, 3 - 10 * smoothing, (60, 10)), labels)
        for seed in (0, 1)
        for smoothing in (0.0, 0.1)
    ]
    plain, smoothed = runs[0::2], runs[1::2]
    return CalibrationReport(
        {"label_smoothing": 0.1, "seeds": 2},
        runs,
        list(TEMPERATURES),
        {"plain": spread([r.ece for r in plain]), "smoothed": spread([r.ece for r in smoothed])},
        {"plain": spread([0.23, 0.24]), "smoothed": spread([0.22, 0.23])},
        {"plain": spread([2.1, 2.2]), "smoothed": spread([2.1, 2.15])},
        float(np.log(10)),
        12.0,
    )


_SIMILAR = {"spearman_abs": 0.4, "spearman": 0.4, "ssim": 0.3, "hog": 0.2}
_BOGUS = RandomLabelsReport(
    {"seeds": 2},
    [RandomLabelsRun(0, 0.9, 0.1, 0.08, 0.96, 0.17, 5.0)] * 2,
    spread([0.9, 0.92]),
    spread([0.08, 0.1]),
    spread([0.96, 0.97]),
    spread([0.17, 0.15]),
    0.1,
    [
        MethodSimilarity("grad_cam", _SIMILAR, {**_SIMILAR, "spearman_abs": 0.62}),
        MethodSimilarity("saliency", _SIMILAR, None),
    ],
    "shapes/random-labels",
    10.0,
)


def test_smoothing_and_the_bogus_model_are_drawn(page, server_url) -> None:
    browser_page = page.page
    saved = {
        "calibration": dataclasses.asdict(_calibration()),
        "random_labels": dataclasses.asdict(_BOGUS),
    }
    smoothing, bogus = open_lab_with(
        browser_page, server_url, saved, ["calibration", "random_labels"]
    )
    smoothing.locator(".js-plotly-plot").nth(2).locator(".main-svg").first.wait_for()
    text = smoothing.locator(".results").inner_text()
    assert "label smoothing ε = 0.1" in text and "23.5 ± 0.7 %" in text
    assert "on the diagonal the confidence can be taken at its word" in text
    titles = smoothing.locator(".js-plotly-plot").evaluate_all(
        "nodes => nodes.map((n) => n.layout.title.text)"
    )
    assert titles == ["Reliability diagram (test images of every seed)", "Confidence histogram",
                      "Entropy of softmax(z / T)"]  # fmt: skip
    # The histogram pools both seeds: 120 images per run kind.
    counts = (
        smoothing.locator(".js-plotly-plot")
        .nth(1)
        .evaluate("node => node.data.map((trace) => trace.y.reduce((a, b) => a + b, 0))")
    )
    assert counts == [120, 120]
    legend = smoothing.locator(".js-plotly-plot").first.locator(".legend").text_content() or ""
    assert "perfect calibration" in legend and "labels (control)" in legend
    rows = bogus.locator("tbody tr")
    assert "90.0 %" not in rows.first.inner_text() and "91.0 ± 1.4 %" in rows.first.inner_text()
    assert "shapes/random-labels" in bogus.locator(".results").inner_text()
    assert "Grad-CAM" in bogus.locator("table").nth(1).inner_text()
    assert "0.62" in bogus.locator("table").nth(1).inner_text()
    page.screenshot("lab-bogus-and-smoothing")
    assert severe_violations(browser_page, "lab-bogus-and-smoothing") == []
    assert page.errors == []
