"""Self-contained HTML reports: every picture inline, no external request, one template.

Every page's report goes through `render_report`, which adds what a reader needs to trust it:
when and on what machine it was made, the model, and the versions that computed it. A page
sends a `PageReport` (static/js/report.js assembles it from what the page shows: sections with
their pictures as data URLs, legends, captions, verdicts, parameters in words, and the panes
still running); `build_report` makes the Explain report from finished jobs for API clients.
"""

import base64
import dataclasses
import io
import json
import os
import platform
import re
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib import metadata
from typing import Any, Literal

from jinja2 import Environment, FileSystemLoader
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field

from app.errors import BadParameter
from app.explain import METHODS
from app.imaging import Display, pixels_to_image, render_map
from app.jobs.queue import JobStatus
from app.shapes.gallery import verdict_line
from app.trust import FaithfulnessResult, RandomizationResult
from app.trust.verdict import faithfulness_verdict, sanity_verdict
from app.workspace import Workspace

__all__ = [
    "PageReport",
    "ReportFigure",
    "ReportSection",
    "ReportVerdict",
    "build_report",
    "describe_params",
    "machine",
    "render_report",
    "report_environment",
    "report_filename",
    "versions",
]

_PACKAGES = ("lantern", "torch", "torchvision", "fastapi")  # what computed and served the report
_DATA_URL = r"^data:image/(png|jpeg|webp);base64,[A-Za-z0-9+/=]+$"
_WAIT_SECONDS = 30.0  # how long a report waits for a pane that is still running


class ReportFigure(BaseModel):
    """A picture as a data URL (nothing is fetched when the report is opened) and its caption."""

    model_config = ConfigDict(extra="forbid")

    src: str = Field(pattern=_DATA_URL, max_length=8 * 1024 * 1024)
    caption: str = Field("", max_length=2000)
    alt: str = Field("", max_length=300)


class ReportVerdict(BaseModel):
    model_config = ConfigDict(extra="forbid")

    level: str = Field("", max_length=40)
    headline: str = Field(max_length=200)
    sentence: str = Field("", max_length=2000)
    explainer: str = Field("", max_length=4000)


class ReportSection(BaseModel):
    """One block of the report: a pane, a chart, a table. `status` other than done says so."""

    model_config = ConfigDict(extra="forbid")

    heading: str = Field(max_length=300)
    status: Literal["done", "running", "failed", "cancelled", "waiting"] = "done"
    lines: list[str] = Field(default_factory=list, max_length=40)
    figures: list[ReportFigure] = Field(default_factory=list, max_length=40)
    verdicts: list[ReportVerdict] = Field(default_factory=list, max_length=10)
    parameters: list[tuple[str, str]] = Field(default_factory=list, max_length=80)
    columns: list[str] = Field(default_factory=list, max_length=30)
    rows: list[list[str]] = Field(default_factory=list, max_length=500)


class PageReport(BaseModel):
    """What a page puts in its report: `page` names it (its nav name), `subject` what it is of
    (an image, a run); both go into the file name."""

    model_config = ConfigDict(extra="forbid")

    page: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,39}$")
    title: str = Field(max_length=200)
    subject: str = Field("", max_length=200)
    model: str | None = Field(None, max_length=200)
    summary: list[str] = Field(default_factory=list, max_length=20)
    sections: list[ReportSection] = Field(default_factory=list, max_length=64)


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for package in _PACKAGES:
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "not installed"
    return found


def machine(device: str) -> str:
    """The computer in a few words: system, CPU count and the device the models run on."""
    described = f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPU cores"
    if device.startswith("cuda"):
        import torch

        described += f", {torch.cuda.get_device_name(0)}"
    return f"{described}; models on {device}"


def describe_params(params: dict[str, Any]) -> list[tuple[str, str]]:
    """Parameters in words: `n_samples: 50` -> ("n samples", "50"); unset ones say "default"."""
    described = []
    for name, value in params.items():
        if value is None:
            text = "default"
        elif isinstance(value, bool):
            text = "yes" if value else "no"
        elif isinstance(value, float):
            text = f"{value:g}"
        elif isinstance(value, list | tuple):
            text = ", ".join(str(v) for v in value) or "none"
        elif isinstance(value, dict):
            text = "; ".join(f"{k.replace('_', ' ')} {v}" for k, v in value.items()) or "none"
        else:
            text = str(value)
        described.append((name.replace("_", " "), text))
    return described


def report_filename(page: str, subject: str, when: datetime) -> str:
    """lantern-explain-chelsea-tabby-cat-2026-11-30.html: what, of what, when."""
    slug = re.sub(r"[^a-z0-9]+", "-", subject.lower()).strip("-")[:60].strip("-")
    parts = ["lantern", page, *([slug] if slug else []), when.strftime("%Y-%m-%d")]
    return "-".join(parts) + ".html"


def report_environment() -> Environment:
    """The templates as the server's Jinja2Templates loads them (autoescaped), for reports made
    outside a server (`lantern audit` writes OUT/report.html)."""
    from app.resources import resource_folder

    return Environment(loader=FileSystemLoader(resource_folder("templates")), autoescape=True)


def render_report(
    environment: Environment, report: PageReport, device: str, weights: str | None = None
) -> tuple[str, str]:
    """The report's HTML and its file name."""
    now = datetime.now(UTC)
    html = environment.get_template("report.html").render(
        report=report,
        created=now.strftime("%Y-%m-%d %H:%M UTC"),
        machine=machine(device),
        weights=weights,
        versions=versions(),
        running=[s.heading for s in report.sections if s.status in ("running", "waiting")],
    )
    return html, report_filename(report.page, report.subject, now)


def build_report(
    environment: Environment,
    workspace: Workspace,
    image_id: str,
    model_name: str | None,
    job_ids: list[str],
    display: Display,
    title: str,
    check_ids: Sequence[str] = (),
) -> tuple[str, str]:
    """The Explain report of explanation jobs of one image, drawn with one `display` and its
    legend, each map with the verdicts of its finished checks among `check_ids`; a job still
    running is waited for a while, then reported as still running."""
    model = workspace.models.get(model_name)
    image = workspace.images.get(image_id)
    pixels = image.model_view(model).numpy()
    with_legend = display.model_copy(update={"legend": True})
    predictions = workspace.predictions(image.id, model.name, 5)
    sections = [
        ReportSection(
            heading=f"{image.name}, as the model saw it",
            figures=[ReportFigure(src=_data_uri(pixels_to_image(pixels)), alt=image.name)],
            columns=["class", "probability"],
            rows=[[p.label, f"{p.probability * 100:.1f} %"] for p in predictions],
        )
    ]
    verdicts = _check_verdicts(workspace, image.id, check_ids)
    for job_id in job_ids:
        job = workspace.jobs.get(job_id)
        if job.kind != "explanation" or job.request["image_id"] != image.id:
            raise BadParameter(f"job {job_id} is not an explanation of image {image.id}")
        method = METHODS.get(job.request["method"])
        deadline = time.monotonic() + _WAIT_SECONDS
        while not workspace.jobs.get(job_id).status.terminal and time.monotonic() < deadline:
            time.sleep(0.2)
        job = workspace.jobs.get(job_id)
        if job.status != JobStatus.DONE:
            state = "failed" if job.status == JobStatus.FAILED else "running"
            if job.status in (JobStatus.CANCELLED, JobStatus.TIMEOUT):
                state = "cancelled"
            sections.append(
                ReportSection(
                    heading=method.title,
                    status=state,
                    lines=[f"{method.title} was {job.status} when this report was made."],
                )
            )
            continue
        result = workspace.explanation(job_id)
        picture = render_map(result.input, result.attribution, result.signed, with_legend)
        probability = float(result.probs[result.target])
        sections.append(
            ReportSection(
                heading=method.title,
                figures=[
                    ReportFigure(
                        src=_data_uri(picture),
                        caption=method.caption.format(label=result.target_label),
                        alt=f"{method.title} map with its colour bar",
                    )
                ],
                lines=[
                    f"Explains {result.target_label} ({result.target}), "
                    f"{probability * 100:.0f} % probability.",
                    f"{result.seconds:.2f} s on {result.device} ({result.engine}).",
                    *result.warnings,
                    *filter(None, [verdict_line(image.name, result.input, result.attribution)]),
                ],
                parameters=describe_params(result.params),
                verdicts=verdicts.get(_map_key(job.request), []),
            )
        )
    report = PageReport(
        page="explain",
        title=f"{title}: {image.name}, {predictions[0].label}" if predictions else title,
        subject=f"{image.name} {predictions[0].label}" if predictions else image.name,
        model=model.name,
        summary=[
            f"Display: {display.mode}, colormap {display.colormap}, values {display.values}, "
            f"opacity {display.opacity:g}"
            + (f", shared scale up to {display.limit:.3g}" if display.limit else ", each map")
            + " to its own peak."
        ],
        sections=sections,
    )
    return render_report(environment, report, workspace.settings.torch_device(), model.weights)


def _map_key(request: dict[str, Any]) -> str:
    """Which map a job is about: its method, class and the method's parameters."""
    params = request["params"].get("method_params", request["params"])
    return json.dumps([request["method"], request["target"], params], sort_keys=True)


def _check_verdicts(
    workspace: Workspace, image_id: str, check_ids: Sequence[str]
) -> dict[str, list[ReportVerdict]]:
    """The verdicts of finished sanity and faithfulness jobs of this image, by the map they
    check; jobs of other kinds or images, or not finished, are left out."""
    found: dict[str, list[ReportVerdict]] = {}
    for job_id in check_ids:
        job = workspace.jobs.get(job_id)
        if job.status != JobStatus.DONE or job.request.get("image_id") != image_id:
            continue
        if isinstance(job.result, FaithfulnessResult):
            model = workspace.models.get(job.result.model)
            verdict = faithfulness_verdict(job.result, model.labels[job.result.target])
        elif isinstance(job.result, RandomizationResult):
            verdict = sanity_verdict(job.result)
        else:
            continue
        entry = ReportVerdict(**dataclasses.asdict(verdict))
        found.setdefault(_map_key(job.request), []).append(entry)
    return found


def _data_uri(picture: Image.Image) -> str:
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
