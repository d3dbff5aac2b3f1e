"""The accessibility check every browser test shares: axe-core (bundled in axe-playwright-python,
no network) against WCAG 2.1 AA, keeping each page's full result under the test artifacts."""

import json

from tests.browser.fixtures import ARTIFACTS

__all__ = ["WCAG_AA", "severe_violations"]

WCAG_AA = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}
SEVERE = {"serious", "critical"}


def severe_violations(browser_page, name: str) -> list[dict]:  # type: ignore[no-untyped-def]
    """The page's serious and critical WCAG AA violations (id, impact, first five nodes); every
    violation is written to ARTIFACTS/axe-NAME.json."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(browser_page, options=WCAG_AA)
    violations = results.response["violations"]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    counts = {v["id"]: len(v["nodes"]) for v in violations if v["impact"] in SEVERE}
    (ARTIFACTS / f"axe-{name}.json").write_text(json.dumps(violations, indent=1))
    print(f"axe {name}: {sum(counts.values())} serious/critical nodes {counts}")
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in violations
        if v["impact"] in SEVERE
    ]
