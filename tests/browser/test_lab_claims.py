"""The Shapes lab page draws the claims' reports: distillation with a transfer set (a table with
each seed, bars with their spread) and noise against attacks (success-rate curves against ε,
the control beside), each chart with its sentence, and the page stays WCAG AA."""

import dataclasses

import pytest

from app.shapes.distill_transfer import DistillArm, DistillTransferReport
from app.shapes.robustness import AttackCurve, NoiseRobustnessReport, RobustnessRun
from app.shapes.seeds import spread
from tests.browser.axe_checks import severe_violations
from tests.browser.lab_reports import open_lab_with

pytestmark = pytest.mark.browser

_DISTILL = DistillTransferReport(
    {"seeds": 3},
    0.915,
    [0, 1, 2],
    [
        DistillArm("labels_only", "labels only", 1000, 10, spread([0.5, 0.52, 0.48]), 9),
        DistillArm(
            "labels_only_same_steps", "labels only, longer", 1000, 30, spread([0.6] * 3), 27
        ),
        DistillArm("distilled", "distilled, labelled set", 1000, 10, spread([0.51, 0.5, 0.49]), 9),
        DistillArm(
            "distilled_transfer",
            "distilled, labelled set + transfer set",
            3000,
            10,
            spread([0.61, 0.6, 0.63]),
            27,
        ),
    ],
    spread([0.11, 0.08, 0.15]),
    spread([0.01, 0.0, 0.03]),
    50,
)
_CURVE = [spread([0.1, 0.2, 0.15]), spread([0.4, 0.5, 0.45])]
_NOISE = NoiseRobustnessReport(
    {"seeds": 3},
    [1 / 255, 2 / 255],
    [
        RobustnessRun(
            "no noise",
            0.0,
            spread([0.5, 0.55, 0.6]),
            [AttackCurve("fgsm", _CURVE), AttackCurve("pgd", _CURVE)],
            20,
        ),
        RobustnessRun(
            "noise σ = 0.1",
            0.1,
            spread([0.45, 0.5, 0.5]),
            [AttackCurve("fgsm", _CURVE), AttackCurve("pgd", _CURVE)],
            20,
        ),
    ],
    40,
)


def test_the_claims_are_drawn_with_their_spread(page, server_url) -> None:
    browser_page = page.page
    saved = {
        "distill_transfer": dataclasses.asdict(_DISTILL),
        "noise_robustness": dataclasses.asdict(_NOISE),
    }
    distill, noise = open_lab_with(
        browser_page, server_url, saved, ["distill_transfer", "noise_robustness"]
    )
    text = distill.locator(".results").inner_text()
    assert "61.3 ± 1.5 %" in text and "61.0 %, 60.0 %, 63.0 %" in text
    assert "11.3 ± 3.5 points over labels only" in text and "more than the seed spread" in text
    assert "as many steps, it is ahead on average, within the seed spread: 1.3 ± 1.5 points" in text
    assert "whiskers one standard deviation" in text
    rows = noise.locator("tbody tr")
    assert rows.count() == 4  # two models × FGSM and PGD
    assert "ε = 2/255" in noise.locator("thead").inner_text()
    assert "the control trained without noise" in noise.locator(".results").inner_text()
    curves = noise.locator(".js-plotly-plot").evaluate("node => node.data.length")
    assert curves == 4
    legend = noise.locator(".legend").text_content() or ""
    assert "no noise, FGSM" in legend and "noise σ = 0.1, PGD" in legend
    page.screenshot("lab-claims")
    assert severe_violations(browser_page, "lab-claims") == []
    assert page.errors == []
