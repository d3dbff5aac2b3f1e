"""A self-contained HTML report of one comparison: every picture inline, no external request."""

import base64
import io
import platform
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

from jinja2 import Environment
from PIL import Image

from app.errors import BadParameter
from app.explain import METHODS
from app.imaging import Display, pixels_to_image, render_map
from app.workspace import Workspace

__all__ = ["ReportPane", "build_report", "versions"]

_PACKAGES = ("lantern", "torch", "torchvision", "fastapi")  # what computed and served the report


@dataclass(frozen=True)
class ReportPane:
    title: str
    method: str
    target: str
    probability: float
    seconds: float
    device: str
    engine: str
    params: dict[str, Any]
    warnings: tuple[str, ...]
    picture: str  # data: URI


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for package in _PACKAGES:
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "not installed"
    return found


def build_report(
    environment: Environment,
    workspace: Workspace,
    image_id: str,
    model_name: str | None,
    job_ids: list[str],
    display: Display,
    title: str,
) -> str:
    """Render `report.html` for explanation jobs of one image, drawn with one `display`."""
    model = workspace.models.get(model_name)
    image = workspace.images.get(image_id)
    pixels = image.model_view(model).numpy()
    panes = []
    for job_id in job_ids:
        result = workspace.explanation(job_id)
        if workspace.jobs.get(job_id).request["image_id"] != image.id:
            raise BadParameter(f"job {job_id} explains another image than {image.id}")
        picture = render_map(result.input, result.attribution, result.signed, display)
        panes.append(
            ReportPane(
                title=METHODS.get(result.method).title,
                method=result.method,
                target=f"{result.target_label} ({result.target})",
                probability=float(result.probs[result.target]),
                seconds=result.seconds,
                device=result.device,
                engine=result.engine,
                params=result.params,
                warnings=result.warnings,
                picture=_data_uri(picture),
            )
        )
    template = environment.get_template("report.html")
    return template.render(
        title=title,
        created=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        image_name=image.name,
        image=_data_uri(pixels_to_image(pixels)),
        model=model.name,
        weights=model.weights,
        predictions=workspace.predictions(image.id, model.name, 5),
        panes=panes,
        display=display.model_dump(),
        versions=versions(),
    )


def _data_uri(picture: Image.Image) -> str:
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
