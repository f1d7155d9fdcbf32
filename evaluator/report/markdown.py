"""summary.md: the table a person reads first, then what failed and why."""

from __future__ import annotations

from evaluator.metrics.intelligibility import Listener
from evaluator.report.schema import ClipReport, RunReport, ScenarioReport


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _fmt(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _heard_as(clip: ClipReport) -> str:
    """expected→likeliest candidate, with Whisper's overall first choice in brackets when it differs."""
    assert clip.heard is not None
    choice = Listener.choice_among(clip.heard)
    overall = "" if clip.heard.language == choice else f" ({clip.heard.language})"
    return f"{clip.language_expected}→{choice}{overall}"


def scenario_row(scenario: ScenarioReport) -> list[str]:
    clips = scenario.clips
    similarity = _mean([c.voice_score.similarity for c in clips if c.voice_score])
    f0_gap = _mean(
        [
            c.voice_score.f0_median_diff_semitones
            for c in clips
            if c.voice_score and c.voice_score.f0_median_diff_semitones is not None
        ]
    )
    errors = [c.text_errors for c in clips if c.text_errors]
    heard = sorted({_heard_as(c) for c in clips if c.heard})
    lipsync = [c.lipsync for c in clips if c.lipsync]
    latency = scenario.latency
    return [
        f"{scenario.suite}/{scenario.id}",
        "PASS" if scenario.passed else "**FAIL**",
        " ".join(sorted({c.language_expected for c in clips})),
        "–" if latency is None else f"{latency.rtf.p50:.3f} / {latency.rtf.p95:.3f}",
        "–" if latency is None else f"{latency.total_s.p50:.2f}",
        "–" if latency is None or latency.first_video_s is None else f"{latency.first_video_s.p50:.2f}",
        _fmt(similarity),
        _fmt(f0_gap, 1),
        ", ".join(heard) or "–",
        "–" if not errors else f"{_fmt(_mean([e.rate for e in errors]))} {errors[0].measure.upper()}",
        "–"
        if not lipsync
        else f"{_fmt(_mean([s.correlation for s in lipsync]))} @ {_fmt(_mean([s.offset_ms for s in lipsync]), 0)} ms",
    ]


HEADER = [
    "scenario",
    "result",
    "lang",
    "RTF p50 / p95",
    "total s p50",
    "first video s p50",
    "similarity",
    "F0 gap st",
    "heard as",
    "WER / CER",
    "lip sync r @ lag",
]


def _table(rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return lines


def _failure_lines(clip: ClipReport) -> list[str]:
    where = f"{clip.suite}/{clip.scenario} repeat {clip.repeat} turn {clip.turn}"
    return [
        f"- {where}: `{check.name}` = {check.value!s} (needs {check.limit})"
        for check in clip.checks
        if not check.passed
    ]


def render_summary(report: RunReport) -> str:
    verdict = "PASSED" if report.passed else "FAILED"
    lines = [
        f"# Evaluation {report.run_id}: {verdict}",
        "",
        f"{report.scenarios_passed} of {len(report.scenarios)} scenarios passed · suites {', '.join(report.suites)}"
        f" · repeat {report.repeat} · runtime {report.runtime_url}",
        "",
        *_table([scenario_row(s) for s in report.scenarios]),
        "",
        "RTF: processing time / video duration (p50 / p95 over repeats and turns). Similarity: resemblyzer cosine "
        "to the reference recording. F0 gap: |median F0 − reference median F0| in semitones. "
        "Lip sync: best correlation of mouth opening with loudness, and its lag (> 0: mouth after sound).",
    ]
    failures = [line for s in report.scenarios for clip in s.clips for line in _failure_lines(clip)]
    errors = [f"- {c.suite}/{c.scenario}: {c.error}" for s in report.scenarios for c in s.clips if c.error]
    if failures or errors:
        lines += ["", "## What failed", "", *errors, *failures]
    return "\n".join(lines) + "\n"
