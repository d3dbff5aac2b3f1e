"""README screenshots written by the browser tests: small palette PNGs under docs/screenshots/."""

import io
from pathlib import Path

from PIL import Image

SCREENSHOTS = Path(__file__).parents[2] / "docs" / "screenshots"
WIDTH = 1200  # pixels: enough to read, small enough for the README
MAX_BYTES = 300_000


def save_for_readme(
    browser_page, name: str, full_page: bool = False, width: int = WIDTH, colors: int = 256
) -> Path:
    """Screenshot the page, scale it to `width`, keep `colors` colours, save it under `name`."""
    picture = Image.open(io.BytesIO(browser_page.screenshot(full_page=full_page))).convert("RGB")
    if picture.width > width:
        height = round(picture.height * width / picture.width)
        picture = picture.resize((width, height), Image.LANCZOS)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / name
    palette = picture.quantize(
        colors=colors, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.FLOYDSTEINBERG
    )
    palette.save(path, optimize=True)
    assert path.stat().st_size < MAX_BYTES, f"{name}: {path.stat().st_size} bytes"
    return path
