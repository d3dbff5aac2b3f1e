"""A model of yours in the browser: a small torchvision network's state dict (random weights, 3
classes) uploaded on the Models page by keyboard, listed in the page bar's menu under "yours",
explained on the Explain page, then removed."""

import pytest
import torch
from safetensors.torch import save_file
from torchvision.models import squeezenet1_1

from tests.browser.axe_checks import severe_violations
from tests.browser.test_dashboard import wait_panes_done

pytestmark = pytest.mark.browser

NAME = "bugs-squeeze"


def test_upload_explain_and_remove_a_model_of_yours(page, server_url, tmp_path) -> None:
    torch.manual_seed(0)
    weights = tmp_path / "squeeze.safetensors"
    save_file(squeezenet1_1(num_classes=3).state_dict(), str(weights))
    labels = tmp_path / "labels.txt"
    labels.write_text("ant\nbee\nwasp\n")

    browser_page = page.page
    browser_page.goto(f"{server_url}/models")
    browser_page.wait_for_function(
        "() => document.querySelectorAll('#model-architecture option').length > 1"
    )
    # The form by keyboard: each field is reachable and labelled.
    browser_page.get_by_label("Name", exact=True).focus()
    browser_page.keyboard.type(NAME)
    browser_page.keyboard.press("Tab")
    assert browser_page.evaluate("document.activeElement.id") == "model-architecture"
    browser_page.get_by_label("Architecture").select_option("torchvision/squeezenet1_1")
    browser_page.get_by_label("Weights (safetensors").set_input_files(str(weights))
    browser_page.get_by_label("Class names").set_input_files(str(labels))
    browser_page.locator("#add-submit").focus()
    browser_page.keyboard.press("Enter")
    status = browser_page.locator("#add-status")
    status.locator("a").wait_for()
    assert f"Added {NAME} (3 classes)" in status.inner_text()
    row = browser_page.locator(f'#model-table tr[data-name="{NAME}"]')
    assert row.get_attribute("data-group") == "yours"
    assert "squeeze.safetensors" in row.inner_text()
    page.screenshot("added")
    assert severe_violations(browser_page, "models-added") == []

    # The page bar's menu on the Explain page: under "yours", and it explains the cat.
    browser_page.goto(f"{server_url}/?model={NAME}&methods=saliency,grad_cam")
    option = browser_page.locator(f'#model optgroup[label="yours"] option[value="{NAME}"]')
    option.wait_for(state="attached")
    assert "3 classes" in option.get_attribute("title")
    assert browser_page.locator("#model").input_value() == NAME
    browser_page.click('.sample[data-name="chelsea"]')
    wait_panes_done(browser_page, 2)
    assert browser_page.locator(".pane[data-status=failed]").count() == 0
    predictions = browser_page.locator("#predictions").inner_text()
    assert all(label in predictions for label in ("ant", "bee", "wasp")), predictions
    caption = browser_page.locator('.pane[data-method="saliency"] .map-caption').inner_text()
    assert any(label in caption for label in ("ant", "bee", "wasp")), caption
    page.screenshot("explained")

    # Removed: gone from the table and the menu.
    browser_page.goto(f"{server_url}/models")
    browser_page.get_by_role("button", name=f"Remove {NAME}").click()
    browser_page.wait_for_function(
        "(name) => !document.querySelector(`#model-table tr[data-name='${name}']`)", arg=NAME
    )
    assert browser_page.locator(f'#model option[value="{NAME}"]').count() == 0
    assert page.errors == []
