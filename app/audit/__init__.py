"""Audit a whole dataset through a model, on Ray Data: accuracy with intervals, per-class scores,
confusions, calibration, label issues and shortcut evidence (sources.py: where images come from;
engine.py: shards, manifest, Ray or a plain loop; scoring.py: what the workers run; app/stats.py,
label_issues.py, shortcuts.py: the statistics; report.py: report.json and images.parquet)."""

from app.audit.engine import AuditParams, run_audit

__all__ = ["AuditParams", "run_audit"]
