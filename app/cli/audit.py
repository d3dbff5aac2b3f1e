"""`lantern audit DATA --out DIR`: a whole dataset through a model (app/audit/), on Ray Data or
in a plain loop; writes DIR/report.json, DIR/images.parquet and DIR/report.html (the same
self-contained report the page's API gives) and prints the headline."""

import argparse
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from app.audit import AuditParams, run_audit
from app.audit.html import audit_report
from app.audit.scoring import ModelLoader
from app.audit.store import AuditFiles
from app.cli._commands import add_command
from app.cli._options import Commands, add_device, add_field_option, settings_of
from app.cli._progress import progress_to
from app.errors import BadParameter
from app.explain import METHODS
from app.report import report_environment

__all__ = ["register"]

OPTIONS = (
    "ray_address",
    "workers",
    "threads",
    "limit",
    "seed",
    "engine",
    "shard_size",
    "batch_size",
)


def register(commands: Commands) -> None:
    audit = add_command(commands, "audit")
    audit.add_argument(
        "data",
        metavar="DATA",
        help="a folder (one sub-folder per class, or flat = unlabelled), a .zip of one, "
        "or shapes:COUNT[:random|aligned|swapped]",
    )
    audit.add_argument("--out", type=Path, required=True, help="folder for the report and parts")
    audit.add_argument("--model", help="model name (see `lantern models`; shapes/teacher, …)")
    audit.add_argument(
        "--methods",
        help=f'comma-separated explanation methods, "" for none (default grad_cam; known: '
        f"{', '.join(METHODS.names())})",
    )
    for name in OPTIONS:
        add_field_option(audit, AuditParams, name)
    add_device(audit)
    audit.set_defaults(run=_audit)


def _audit(args: argparse.Namespace) -> None:
    settings = settings_of(args)
    values: dict[str, Any] = {"data": args.data, "model": args.model}
    if args.methods is not None:
        values["methods"] = [m.strip() for m in args.methods.split(",") if m.strip()]
    for name in OPTIONS:
        if getattr(args, name) is not None:
            values[name] = getattr(args, name)
    try:
        params = AuditParams.model_validate(values)
    except ValidationError as error:
        first = error.errors()[0]
        where = "--" + "-".join(str(part) for part in first["loc"]).replace("_", "-")
        raise BadParameter(f"{where}: {first['msg']}") from None
    for method in params.methods:
        METHODS.get(method)  # an unknown name: one line before anything starts
    if params.engine == "plain":
        import torch

        torch.set_num_threads(params.threads)  # this process is the plain loop's only worker
    model = ModelLoader(params.model or settings.default_model, settings).load()
    with progress_to("audit") as progress:
        report = run_audit(params, settings, args.out, progress, model=model)
    html, _ = audit_report(
        report_environment(), settings, AuditFiles(args.out), model.preprocessing, model.weights
    )
    (args.out / "report.html").write_text(html)
    print(_headline(report, args.out))


def _headline(report: dict[str, Any], out: Path) -> str:
    lines = [f"{report['scored']} of {report['images']} images scored by {report['model']}"]
    if report["skipped"]:
        lines.append(f"{len(report['skipped'])} skipped (reasons in report.json)")
    if report["labelled"]:
        result = report["classification"]
        low, high = result["accuracy_interval"]
        lines.append(f"accuracy {result['accuracy']:.3f} (95 % CI {low:.3f}-{high:.3f})")
        low, high = result["top5_interval"]
        lines.append(f"top-5 {result['top5']:.3f} (95 % CI {low:.3f}-{high:.3f})")
        calibration = report["calibration"]
        lines.append(f"ECE {calibration['all']['ece']:.3f}")
        if calibration.get("temperature"):
            lines.append(
                f"temperature {calibration['temperature']:.3f}: held-out ECE "
                f"{calibration['before']['ece']:.3f} -> {calibration['after']['ece']:.3f}"
            )
        lines.append(f"{report['label_issues']['count']} label issue candidates")
    for method, evidence in report["shortcuts"].items():
        if not evidence["used"]:
            lines.append(f"{method}: {evidence['reason']}")
            continue
        overall = evidence["overall"]
        text = f"{method}: border mass ×{overall['border_ratio']:.2f} of a uniform map's"
        if "mass_inside" in overall:
            text += (
                f", mass inside the object {overall['mass_inside']:.3f} "
                f"(area {overall['area_share']:.3f}), pointing game {overall['pointing_game']:.3f}"
            )
        lines.append(text)
    lines.append(f"report: {out / 'report.html'} (data: report.json, images.parquet)")
    return "\n".join(lines)
