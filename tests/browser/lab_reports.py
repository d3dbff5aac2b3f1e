"""The Lab page drawing saved experiment reports: the server's `/api/lab/reports` answer with
`saved` merged in (no experiment is run), each named experiment's section once its first chart
is drawn."""

from typing import Any

from playwright.sync_api import Locator, Page, Route


def open_lab_with(
    browser_page: Page, server_url: str, saved: dict[str, Any], experiments: list[str]
) -> list[Locator]:
    def reports(route: Route) -> None:
        route.fulfill(json={**route.fetch().json(), **saved})

    browser_page.route("**/api/lab/reports", reports)
    browser_page.goto(server_url + "/lab")
    sections = [browser_page.locator(f'section[data-experiment="{name}"]') for name in experiments]
    for section in sections:
        section.locator(".js-plotly-plot .main-svg").first.wait_for()
    return sections
