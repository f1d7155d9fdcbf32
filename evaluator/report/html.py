"""report.html: one self-contained page (plots inlined as SVG) for people who want to see the numbers."""

from __future__ import annotations

import html
import io

import matplotlib

matplotlib.use("Agg")  # no display: render to files only
import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from evaluator.report.markdown import HEADER, scenario_row
from evaluator.report.schema import RunReport

STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
table { border-collapse: collapse; margin: 1em 0; } td, th { border: 1px solid #ccc; padding: 4px 8px; }
th { background: #f3f3f3; } .fail { color: #b00020; font-weight: 600; } .pass { color: #1b5e20; }
figure { margin: 1.5em 0; } details { margin: .3em 0; } code { background: #f6f6f6; padding: 0 3px; }
"""


def _svg(figure: Figure) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(figure)
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def _per_scenario(figure: Figure, axis: Axes, limit: float, ylabel: str, title: str) -> str:
    """Finish a plot with one column per scenario and a dashed line at the pass/fail limit."""
    axis.axhline(limit, color="#b00020", linestyle="--", label="limit")
    axis.set_ylabel(ylabel)
    axis.set_title(title)
    axis.tick_params(axis="x", rotation=30)
    axis.legend()
    return _svg(figure)


def latency_plot(report: RunReport) -> str:
    timed = [s for s in report.scenarios if s.latency is not None]
    figure, axis = plt.subplots(figsize=(9, 3.2))
    names = [s.id for s in timed]
    p50 = [s.latency.rtf.p50 for s in timed if s.latency]
    p95 = [s.latency.rtf.p95 for s in timed if s.latency]
    axis.bar(names, p95, color="#c7d7f0", label="p95")
    axis.bar(names, p50, color="#3f6fb5", width=0.5, label="p50")
    return _per_scenario(figure, axis, report.thresholds.latency.rtf_max, "real-time factor", "Latency per scenario")


def similarity_plot(report: RunReport) -> str:
    points = [
        (s.id, clip.voice_score.similarity)
        for s in report.scenarios
        for clip in s.clips
        if clip.voice_score is not None
    ]
    figure, axis = plt.subplots(figsize=(9, 3.2))
    if points:
        axis.scatter([p[0] for p in points], [p[1] for p in points], color="#3f6fb5")
    axis.set_ylim(0, 1)
    title = "Voice: similarity to the reference, per clip"
    return _per_scenario(figure, axis, report.thresholds.voice.similarity_min, "speaker similarity", title)


def lipsync_plot(report: RunReport) -> str:
    """One curve per scenario: the correlation at each lag, averaged over its clips."""
    figure, axis = plt.subplots(figsize=(9, 3.6))
    for scenario in report.scenarios:
        curves = [clip.lipsync.by_lag_ms for clip in scenario.clips if clip.lipsync is not None]
        if not curves:
            continue
        lags = sorted(curves[0])
        mean = [sum(curve.get(lag, 0.0) for curve in curves) / len(curves) for lag in lags]
        axis.plot(lags, mean, label=scenario.id)
    axis.axhline(report.thresholds.lipsync.correlation_min, color="#b00020", linestyle="--")
    axis.axvline(0, color="#888", linewidth=0.8)
    axis.set_xlabel("lag, ms (> 0: mouth moves after the sound)")
    axis.set_ylabel("correlation (mean over clips)")
    axis.set_title("Lip sync: mouth opening vs loudness, by lag")
    if axis.lines:
        axis.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    return _svg(figure)


def render_html(report: RunReport) -> str:
    rows = []
    for scenario in report.scenarios:
        cells = scenario_row(scenario)
        css = "pass" if scenario.passed else "fail"
        cells[1] = f'<span class="{css}">{"PASS" if scenario.passed else "FAIL"}</span>'
        rows.append("<tr>" + "".join(f"<td>{c if i == 1 else html.escape(c)}</td>" for i, c in enumerate(cells)))
    details = []
    for scenario in report.scenarios:
        for clip in scenario.clips:
            items = "".join(
                f'<li class="{"pass" if c.passed else "fail"}">{html.escape(c.name)} = {html.escape(str(c.value))}'
                f" (needs {html.escape(c.limit)})</li>"
                for c in clip.checks
            )
            heard = "" if clip.heard is None else f"<p>Heard: <i>{html.escape(clip.heard.transcript)}</i></p>"
            error = "" if clip.error is None else f'<p class="fail">{html.escape(clip.error)}</p>'
            video = "" if clip.video_file is None else f' · <a href="{html.escape(clip.video_file)}">video</a>'
            asked = "" if clip.prompt is None else f"<p>Asked: {html.escape(clip.prompt)}</p>"
            details.append(
                f"<details><summary>{html.escape(scenario.suite)}/{html.escape(scenario.id)} "
                f"r{clip.repeat} t{clip.turn}: {'pass' if clip.passed else 'FAIL'}{video}</summary>"
                f"{asked}<p>Text: {html.escape(clip.text)}</p>{heard}{error}<ul>{items}</ul></details>"
            )
    verdict = "passed" if report.passed else "FAILED"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Evaluation {html.escape(report.run_id)}</title>
<style>{STYLE}</style></head><body>
<h1>Evaluation {html.escape(report.run_id)}: {verdict}</h1>
<p>{report.scenarios_passed} of {len(report.scenarios)} scenarios passed
· suites {html.escape(", ".join(report.suites))} · repeat {report.repeat}
· runtime <code>{html.escape(report.runtime_url)}</code></p>
<table><tr>{"".join(f"<th>{html.escape(h)}</th>" for h in HEADER)}</tr>{"".join(rows)}</table>
<figure>{latency_plot(report)}</figure>
<figure>{similarity_plot(report)}</figure>
<figure>{lipsync_plot(report)}</figure>
<h2>Clips</h2>
{"".join(details)}
</body></html>
"""
