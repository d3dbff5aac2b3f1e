"""A finished audit as one self-contained HTML file, without a browser: the same template and
header as every page's report (`app/report.py` render_report), the pictures inline.

The page's "Download report" exports what the page shows (with its Plotly charts); this is
what an API client or a script gets from `GET /api/audits/ID/report.html`, and what `lantern
audit` writes as `OUT/report.html`: the headline, the
per-class table, confusions, calibration in numbers, the galleries and each class's SpRAy
strategies as thumbnails and maps with their colour bars.
"""

import base64
import io
from typing import Any

from jinja2 import Environment
from PIL import Image

from app.audit import store
from app.imaging.preprocessing import Preprocessing
from app.report import PageReport, ReportFigure, ReportSection, render_report
from app.settings import Settings

__all__ = ["audit_report"]

FIGURES = 12  # thumbnails per gallery


def _png(picture: Image.Image) -> str:
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f} %"


def audit_report(
    environment: Environment,
    settings: Settings,
    files: store.AuditFiles,
    preprocessing: Preprocessing,
    weights: str | None,
) -> tuple[str, str]:
    """The report's HTML and its file name."""
    report = files.report()

    def thumbnail(image: dict[str, Any]) -> ReportFigure:
        pixels, name = store.image_pixels(settings, files, image["index"], preprocessing)
        labelled = f"labelled {image['label_name']}, " if image.get("label_name") else ""
        caption = (
            f"{name}: {labelled}predicted {image['prediction_name']} "
            f"({_percent(image['confidence'])})"
        )
        return ReportFigure(src=_png(Image.fromarray(pixels)), caption=caption, alt=name)

    summary = [f"{report['scored']} of {report['images']} images scored by {report['model']}."]
    sections: list[ReportSection] = []
    if report["labelled"]:
        result = report["classification"]
        low, high = result["accuracy_interval"]
        summary.append(
            f"Accuracy {_percent(result['accuracy'])} (95 % interval {_percent(low)} to "
            f"{_percent(high)}); top-5 {_percent(result['top5'])}; "
            f"{report['label_issues']['count']} label issue candidates."
        )
        sections.append(
            ReportSection(
                heading="Per class",
                columns=["class", "images", "precision", "recall", "F1", "mean confidence"],
                rows=[
                    [
                        row["label"],
                        str(row["support"]),
                        _percent(row["precision"]),
                        _percent(row["recall"]),
                        f"{row['f1']:.2f}",
                        _percent(row["mean_confidence"]),
                    ]
                    for row in report["per_class"][:500]
                ],
            )
        )
        sections.append(
            ReportSection(
                heading="Most frequent confusions",
                lines=[
                    f"{p['label_name']} taken for {p['predicted_name']}: {p['count']} images "
                    f"({_percent(p['rate'])} of {p['label_name']})"
                    for p in report["confusions"][:20]
                ]
                or ["No confusions."],
            )
        )
        calibration = report["calibration"]
        curves = [("all images", calibration["all"])]
        if calibration.get("before"):
            curves += [
                ("held-out, before", calibration["before"]),
                (f"held-out, after T = {calibration['temperature']:.2f}", calibration["after"]),
            ]
        sections.append(
            ReportSection(
                heading="Calibration",
                lines=[
                    f"{name}: ECE {v['ece']:.3f}, adaptive ECE {v['adaptive_ece']:.3f}, "
                    f"Brier {v['brier']:.3f}, NLL {v['nll']:.3f}"
                    for name, v in curves
                ],
                columns=["confidence bin", "images", "mean confidence", "accuracy"],
                rows=[
                    [
                        f"{i / len(calibration['all']['bins']):.2f}-"
                        f"{(i + 1) / len(calibration['all']['bins']):.2f}",
                        str(b["count"]),
                        _percent(b["confidence"]) if b["count"] else "–",
                        _percent(b["accuracy"]) if b["count"] else "–",
                    ]
                    for i, b in enumerate(calibration["all"]["bins"])
                ],
            )
        )
        galleries = [
            ("Most confident mistakes", report["confident_mistakes"]),
            ("Label issue candidates (for review, not verdicts)", report["label_issues"]["images"]),
        ]
    else:
        galleries = [("Highest-entropy images", report["highest_entropy"])]
    for heading, images in galleries:
        sections.append(
            ReportSection(
                heading=heading,
                figures=[thumbnail(image) for image in images[:FIGURES]],
                lines=[] if images else ["None."],
            )
        )
    for method, evidence in report["shortcuts"].items():
        if not evidence["used"]:
            sections.append(
                ReportSection(heading=f"Shortcuts: {method}", lines=[evidence["reason"]])
            )
            continue
        overall = evidence["overall"]
        line = (
            f"Border mass {_percent(overall['border_mass'])} "
            f"(×{overall['border_ratio']:.2f} a uniform map's)"
        )
        if "mass_inside" in overall:
            line += (
                f", mass inside the object {_percent(overall['mass_inside'])} against its "
                f"area {_percent(overall['area_share'])}, pointing game "
                f"{_percent(overall['pointing_game'])}"
            )
        figures = []
        for row in evidence["classes"]:
            spray = row.get("spray")
            for cluster, members in enumerate(spray["representatives"] if spray else []):
                for index in members[:1]:
                    picture = store.map_picture(
                        settings, files, method, index, preprocessing, legend=True
                    )
                    figures.append(
                        ReportFigure(
                            src=_png(picture),
                            caption=f"{row['label']}: strategy {cluster + 1} of "
                            f"{spray['clusters']} ({spray['sizes'][cluster]} images); red "
                            f"marks the evidence for the predicted class",
                            alt=f"{method} map of image {index} with its colour bar",
                        )
                    )
        sections.append(
            ReportSection(
                heading=f"Shortcuts: {method} (SpRAy strategies, one typical map each)",
                lines=[line],
                figures=figures[:40],
            )
        )
    provenance = report["provenance"]
    workers = provenance["workers"]
    engine = provenance["engine"]
    if engine != "plain":
        engine += f", {workers} worker{'s' if workers > 1 else ''}"
    summary.append(
        f"Audit {files.name} of {report['data']}; engine {engine}; "
        f"data hash {provenance['data_hash'][:12]}."
    )
    page = PageReport(
        page="audit",
        title=f"Dataset audit: {report['model']} on {report['data']}",
        subject=f"{report['model']} {report['data']}",
        model=report["model"],
        summary=summary,
        sections=sections,
    )
    return render_report(environment, page, settings.torch_device(), weights)
