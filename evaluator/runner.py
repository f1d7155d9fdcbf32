"""Run suites against a runtime: generate each turn over HTTP, download the MP4, score it, summarize."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse

import httpx

from common.media.mp4_boxes import BoxReader
from contracts.runtime import GenerateRequest, GenerateResult
from evaluator.config import EvalSettings
from evaluator.conversation import reply_clip, start_conversation
from evaluator.metrics.intelligibility import Listener
from evaluator.metrics.latency import spread
from evaluator.report.schema import ClipReport, LatencySummary, RunReport, ScenarioReport
from evaluator.scoring import ClipScorer, judge
from evaluator.suites import Scenario, Suite, SuiteError, load_suite, select, turn_text
from evaluator.thresholds import load_thresholds


class RuntimeUnreachable(RuntimeError):
    pass


@dataclass
class RunOptions:
    suites: list[str]
    repeat: int = 1
    only: list[str] = field(default_factory=list)


Progress = Callable[[str], None]  # called once per clip finished, with a short label


def bundled_reference(assets_dir: Path, voice: str | None) -> str | None:
    """The reference recording of a bundled voice, relative to the assets folder (None for others)."""
    if voice is None:
        return None
    catalog = json.loads((assets_dir / "voices" / "voices.json").read_text(encoding="utf-8"))
    entry = next((item for item in catalog if item["id"] == voice), None)
    return None if entry is None else f"voices/{entry['file']}"


def runtime_health(client: httpx.Client, url: str) -> dict[str, object]:
    try:
        response = client.get(f"{url}/health", timeout=30)
    except httpx.TransportError as error:
        raise RuntimeUnreachable(
            f"runtime not reachable at {url} ({error}); start it (make demo shows how) or set EVAL_RUNTIME_URL"
        ) from error
    body: dict[str, object] = response.json()
    return body


def _error_text(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
    except ValueError:
        detail = None
    return f"HTTP {response.status_code}: {detail or response.text[:300]}"


def generate_clip(client: httpx.Client, url: str, clip: ClipReport, destination: Path, timeout_s: float) -> bool:
    """Ask the runtime for the clip and download it to `destination`; on failure record why in `clip.error`."""
    request = GenerateRequest(
        text=clip.text,
        language=clip.language_requested,
        voice=clip.voice,
    )
    started = time.perf_counter()
    try:
        response = client.post(f"{url}/api/v1/generate", json=request.model_dump(exclude_none=True), timeout=timeout_s)
        clip.client_s = time.perf_counter() - started
        if response.status_code != 200:
            clip.error = _error_text(response)
            return False
        result = GenerateResult.model_validate(response.json())
        clip.video_id, clip.timings, clip.rtf = result.video_id, result.timings, result.rtf
        clip.engines, clip.fallback, clip.language_used = result.engines, result.fallback, result.language
        destination.parent.mkdir(parents=True, exist_ok=True)
        # From the runtime this evaluator was pointed at: the answer's URL is for the runtime's public clients.
        video_url = url + urlparse(result.video_url).path
        with client.stream("GET", video_url, timeout=timeout_s) as download:
            if download.status_code != 200:
                download.read()
                clip.error = f"download failed: {_error_text(download)}"
                return False
            with destination.open("wb") as out:
                for chunk in download.iter_bytes():
                    out.write(chunk)
    except httpx.TransportError as error:
        clip.error = f"{type(error).__name__}: {error}"
        return False
    return True


def first_video(client: httpx.Client, url: str, clip: ClipReport, timeout_s: float) -> None:
    """The same clip in streaming mode: time to the first playable fragment (its `mdat` complete), read to the end."""
    request = GenerateRequest(text=clip.text, language=clip.language_requested, voice=clip.voice, stream=True)
    reader = BoxReader()
    started = time.perf_counter()
    try:
        with client.stream(
            "POST", f"{url}/api/v1/generate", json=request.model_dump(exclude_none=True), timeout=timeout_s
        ) as response:
            if response.status_code != 200:
                response.read()
                clip.error = f"streaming: {_error_text(response)}"
                return
            for chunk in response.iter_bytes():
                if clip.first_video_s is None and any(box.kind == "mdat" for box in reader.feed(chunk)):
                    clip.first_video_s = time.perf_counter() - started
    except httpx.TransportError as error:  # the stream broke off: its documented error signal
        clip.first_video_s = None
        clip.error = f"streaming: {type(error).__name__}: {error}"


def summarize(suite: str, scenario: str, clips: list[ClipReport]) -> ScenarioReport:
    timed = [clip for clip in clips if clip.timings is not None and clip.rtf is not None]
    latency = None
    if timed:
        latency = LatencySummary(
            rtf=spread([clip.rtf for clip in timed if clip.rtf is not None]),
            total_s=spread([clip.timings.total_s for clip in timed if clip.timings]),
            tts_s=spread([clip.timings.tts_s for clip in timed if clip.timings]),
            render_s=spread([clip.timings.render_s for clip in timed if clip.timings]),
            client_s=spread([clip.client_s for clip in timed if clip.client_s is not None]),
            first_video_s=spread(first) if (first := [c.first_video_s for c in timed if c.first_video_s]) else None,
        )
    failed = sorted({check.name for clip in clips for check in clip.checks if not check.passed})
    return ScenarioReport(
        suite=suite,
        id=scenario,
        passed=all(clip.passed for clip in clips),
        failed_checks=failed,
        latency=latency,
        clips=clips,
    )


def plan(options: RunOptions) -> list[tuple[Suite, Scenario]]:
    suites = [load_suite(name) for name in options.suites]
    chosen = [(suite, scenario) for suite in suites for scenario in select(suite, options.only)]
    if not chosen:
        raise SuiteError(f"no scenario of {', '.join(options.suites)} matches {' or '.join(options.only)}")
    return chosen


def clip_count(chosen: list[tuple[Suite, Scenario]], repeat: int) -> int:
    return sum(len(scenario.turns) for _, scenario in chosen) * repeat


def run(settings: EvalSettings, options: RunOptions, run_dir: Path, progress: Progress) -> RunReport:
    """Run the suites. What needs no runtime (suites, thresholds, Whisper model) is checked before the first call."""
    started = datetime.now(UTC)
    chosen = plan(options)
    thresholds = load_thresholds(settings.thresholds_file)
    scorer = ClipScorer(thresholds, Listener(settings.whisper_model_dir), settings.assets_dir)
    url = settings.runtime_url.rstrip("/")
    scenarios: list[ScenarioReport] = []
    headers = {"Authorization": f"Bearer {settings.api_key}"} if settings.api_key else {}
    with httpx.Client(headers=headers) as client:
        health = runtime_health(client, url)
        for suite, scenario in chosen:
            reference = scenario.reference or bundled_reference(settings.assets_dir, scenario.voice)
            clips: list[ClipReport] = []
            conversational = suite.kind == "conversation"
            for repeat in range(options.repeat):
                conversation_id = start_conversation(client, url, scenario) if conversational else ""
                for index, turn in enumerate(scenario.turns):
                    text = turn_text(turn, settings.assets_dir)
                    clip = ClipReport(
                        suite=suite.name,
                        scenario=scenario.id,
                        repeat=repeat,
                        turn=index,
                        text="" if conversational else text,
                        prompt=text if conversational else None,
                        language_requested=turn.language,
                        language_expected=turn.expected_language,
                        voice=scenario.voice,
                    )
                    relative = Path("clips") / f"{suite.name}-{scenario.id}-r{repeat}-t{index}.mp4"
                    if conversational:
                        made = reply_clip(
                            client, url, conversation_id, clip, run_dir / relative, settings.request_timeout_s
                        )
                    else:
                        first_video(client, url, clip, settings.request_timeout_s)
                        made = generate_clip(client, url, clip, run_dir / relative, settings.request_timeout_s)
                    if made:
                        clip.video_file = str(relative)
                        scorer.score(clip, run_dir / relative, reference)
                    else:
                        clip.checks = judge(clip, thresholds)
                    clips.append(clip)
                    progress(f"{suite.name}/{scenario.id}")
            scenarios.append(summarize(suite.name, scenario.id, clips))
    passed = sum(scenario.passed for scenario in scenarios)
    return RunReport(
        run_id=run_dir.name,
        started_at=started,
        finished_at=datetime.now(UTC),
        runtime_url=url,
        runtime_health=health,
        suites=options.suites,
        repeat=options.repeat,
        only=options.only,
        thresholds=thresholds,
        scenarios=scenarios,
        passed=passed == len(scenarios),
        scenarios_passed=passed,
        scenarios_failed=len(scenarios) - passed,
    )
