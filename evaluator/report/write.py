"""Write a run's three reports into its folder, each atomically (a reader never sees half a file)."""

from __future__ import annotations

from pathlib import Path

from common.storage.files import atomic_target
from evaluator.report.html import render_html
from evaluator.report.markdown import render_summary
from evaluator.report.schema import RunReport


def _write_text(path: Path, text: str) -> None:
    with atomic_target(path) as partial:
        partial.write_text(text, encoding="utf-8")


def write_reports(report: RunReport, run_dir: Path) -> dict[str, Path]:
    run_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": run_dir / "report.json", "summary": run_dir / "summary.md", "html": run_dir / "report.html"}
    _write_text(paths["json"], report.model_dump_json(indent=2))
    _write_text(paths["summary"], render_summary(report))
    _write_text(paths["html"], render_html(report))
    return paths
