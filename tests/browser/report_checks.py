"""Download a page's report in chromium and check what every report must be: one HTML file with
every picture inline, nothing fetched from outside, the machine and the versions, and a
descriptive file name."""

import re
from datetime import UTC, datetime
from pathlib import Path


def download_report(page, button: str, folder: Path) -> tuple[str, str]:
    """Click `button`, save the download; returns (suggested file name, HTML)."""
    browser_page = page.page
    browser_page.evaluate("window.scrollTo(0, 0)")
    with browser_page.expect_download(timeout=120_000) as download_info:
        browser_page.click(button)
    download = download_info.value
    path = folder / download.suggested_filename
    download.save_as(path)
    html = path.read_text(encoding="utf-8")
    check_self_contained(download.suggested_filename, html)
    return download.suggested_filename, html


def check_self_contained(filename: str, html: str) -> None:
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    assert re.fullmatch(rf"lantern-[a-z]+(-[a-z0-9-]+)?-{today}\.html", filename), filename
    sources = re.findall(r'<img src="([^"]*)"', html)
    assert all(re.match(r"data:image/(png|jpeg|webp);base64,", source) for source in sources)
    assert not re.search(r"(?:src|href)=\"(?!data:)", html)  # no file, no link to fetch
    assert not re.search(r"https?://", html) and "<script" not in html
    assert "Computed on" in html and "CPU cores" in html and "lantern " in html
    assert "limit = None" not in html and "null" not in html
