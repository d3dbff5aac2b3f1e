"""Models made here are models everywhere: a tiny Shapes teacher trained in the lab, compressed to
int8 in the Compression lab, and both explained on the Explain page — a Shapes test image from
the gallery, the shape's exact outline over each map (a toggle, with its legend), and each map's
pointing-game hit and mass inside the shape; the compression table shows its Wilson intervals."""

import re
import time

import pytest

from tests.browser.axe_checks import severe_violations

pytestmark = pytest.mark.browser

TINY_TEACHER = {"modes": ["head"], "train_images": 10, "test_images": 10, "head_epochs": 1}
INT8 = {
    "variants": [{"recipe": "int8_static", "params": {"calibration_images": 8}}],
    "methods": [],
    "drift_images": 0,
    "latency_repeats": 3,
    "shapes_test_images": 20,
}


def _finished(request, server_url: str, response) -> dict:
    assert response.status in (200, 201), response.text()
    job_id = response.json()["id"]
    deadline = time.monotonic() + 300
    while True:
        job = request.get(f"{server_url}/api/jobs/{job_id}").json()
        if job["status"] not in ("queued", "running"):
            assert job["status"] == "done", job
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.2)


def _ground_truth_shown(browser_page, shape: str) -> None:
    """The saliency pane of the current Shapes image: its outline over the map, the legend, the
    two scores."""
    pane = browser_page.locator('.pane[data-method="saliency"]')
    pane.locator(".ground-truth .mass").wait_for()
    outline = pane.locator(".stage svg.outline")
    assert outline.get_attribute("viewBox") == "0 0 64 64"
    assert outline.locator("path").first.get_attribute("d").startswith("M")
    assert outline.is_visible()
    box = pane.locator(".ground-truth")
    assert f"exact outline of the {shape}" in box.locator(".outline-legend").inner_text()
    assert re.match(r"Pointing game: (hit|miss) — ", box.locator(".pointing").inner_text())
    mass = box.locator(".mass").inner_text()
    assert re.match(r"Mass inside the shape: \d+ % of the map's positive mass", mass), mass
    assert 0.0 <= float(box.locator(".mass").get_attribute("data-mass")) <= 1.0


def test_a_tiny_teacher_and_its_int8_variant_show_their_ground_truth(page, server_url) -> None:
    browser_page = page.page
    request = browser_page.request
    _finished(
        request,
        server_url,
        request.post(f"{server_url}/api/lab/experiments/transfer", data=TINY_TEACHER),
    )
    body = {"model": "shapes/teacher", "params": INT8}
    run = _finished(request, server_url, request.post(f"{server_url}/api/compress/runs", data=body))
    report = run["result"]
    assert report["evaluation"]["labelled"] and report["evaluation"]["images"] == 20
    variant = f"compressed/{report['id']}/{report['rows'][1]['file'].rsplit('.', 1)[0]}"

    # The teacher on the Explain page: the gallery offers Shapes test images.
    browser_page.goto(f"{server_url}/?model=shapes/teacher&methods=saliency")
    star = browser_page.locator('#shapes-samples .sample[data-name="shapes-3"]')
    star.wait_for()
    assert browser_page.locator("#samples .sample").count() >= 4  # the photos stay offered
    star.click()
    _ground_truth_shown(browser_page, "star")
    assert browser_page.locator("#model").input_value() == "shapes/teacher"
    toggle = browser_page.locator('.pane[data-method="saliency"] .outline-toggle input')
    toggle.focus()
    browser_page.keyboard.press("Space")  # keyboard-reachable: hide the outline, then show it
    assert not browser_page.locator('.pane[data-method="saliency"] svg.outline').is_visible()
    browser_page.keyboard.press("Space")
    assert browser_page.locator('.pane[data-method="saliency"] svg.outline').is_visible()
    page.screenshot("teacher-ground-truth")
    # The lab scores the map of the true class: the pane says so when it explains another.
    explained = browser_page.locator("#target-info").inner_text()
    other = browser_page.locator('.pane[data-method="saliency"] .ground-truth .other-class')
    assert other.count() == (0 if "“star”" in explained else 1)
    browser_page.fill("#class-search", "star")
    browser_page.dispatch_event("#class-search", "change")
    browser_page.wait_for_function(
        "() => document.querySelector('#target-info').textContent.includes('“star”')"
        " && document.querySelector('.pane[data-method=saliency] .ground-truth .mass')"
    )
    _ground_truth_shown(browser_page, "star")
    assert other.count() == 0
    assert severe_violations(browser_page, "explain-shapes") == []

    # Its int8 variant, by its catalog name: the same image, explained again, scored again.
    first_job = browser_page.locator('.pane[data-method="saliency"]').get_attribute("data-job-id")
    browser_page.select_option("#model", variant)
    browser_page.wait_for_function(
        "(old) => { const p = document.querySelector('.pane[data-method=saliency]');"
        " return p.dataset.status === 'done' && p.dataset.jobId !== old"
        " && p.querySelector('.ground-truth .mass'); }",
        arg=first_job,
    )
    _ground_truth_shown(browser_page, "star")
    assert browser_page.locator("#shapes-samples").is_visible()
    page.screenshot("int8-ground-truth")

    # The Compression lab's table: agreement and accuracy with their Wilson intervals.
    browser_page.goto(f"{server_url}/compress?model=shapes/teacher")
    browser_page.locator("#saved-runs summary").click()
    browser_page.locator("#run-list button", has_text="shapes/teacher").first.click()
    table = browser_page.locator(".compress-table")
    table.wait_for()
    assert "top-1 agreement (95 % interval)" in table.locator("thead").inner_text()
    original = table.locator("tbody tr").nth(0).inner_text()
    assert "100.0 % (84–100)" in original  # 20 of 20 images: Wilson's interval
    assert "In brackets: the Wilson 95 % interval" in browser_page.locator("#results").inner_text()
    assert page.errors == [] and page.dialogs == []
