"""python -m evaluator: run scenario suites against a runtime and write report.json, summary.md, report.html.

Exit code: 0 every scenario passed, 1 some failed, 2 the run could not start (bad option, runtime down, model missing).
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

from tqdm import tqdm

from evaluator.config import EvalSettings
from evaluator.metrics.intelligibility import WhisperModelMissing
from evaluator.report.write import write_reports
from evaluator.runner import RunOptions, RuntimeUnreachable, clip_count, plan, run
from evaluator.suites import SuiteError, available_suites


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m evaluator", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--suite",
        action="append",
        dest="suites",
        metavar="NAME",
        help=f"suite to run (repeatable; default phase1); available: {', '.join(available_suites())}",
    )
    parser.add_argument("--repeat", type=int, default=1, help="run every scenario this many times (p50/p95 over them)")
    parser.add_argument(
        "--only", action="append", default=[], metavar="PATTERN", help="scenario ids to run, glob (repeatable)"
    )
    parser.add_argument("--runtime-url", help="runtime to evaluate (default: EVAL_RUNTIME_URL)")
    parser.add_argument("--output", type=Path, help="folder for this run's reports (default: a new one in outputs)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar (logs, CI)")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = EvalSettings()
    if args.runtime_url:
        settings.runtime_url = args.runtime_url
    options = RunOptions(suites=args.suites or ["phase1"], repeat=args.repeat, only=args.only)
    run_dir = args.output or settings.outputs_dir / datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    try:
        total = clip_count(plan(options), options.repeat)
        with tqdm(total=total, unit="clip", disable=args.no_progress, file=sys.stderr) as bar:

            def advance(label: str) -> None:
                bar.set_postfix_str(label)
                bar.update()

            report = run(settings, options, run_dir, advance)
    except (SuiteError, WhisperModelMissing, RuntimeUnreachable, ValueError) as error:
        print(f"evaluator: {error}", file=sys.stderr)
        return 2
    paths = write_reports(report, run_dir)
    print(paths["summary"].read_text(encoding="utf-8"))
    print(f"reports: {paths['json']}\n         {paths['summary']}\n         {paths['html']}")
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
