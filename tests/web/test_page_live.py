"""The page's live mode in Chromium: a WebRTC session with the avatar through the runtime's signaling."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from common.process.launch import RunningService, run_service
from evaluator.metrics.intelligibility import Listener
from tests.turn_server import turn_server
from tests.web.conftest import OpenPage, Site
from tests.web.test_page import assert_words_of, ready

# Inbound video and audio as Chromium counts them.
INBOUND = """async () => {
  const stats = await window.avatarMetrics.livePeer.getStats();
  const out = {};
  stats.forEach((report) => {
    if (report.type === "inbound-rtp") out[report.kind] = report;
  });
  return {
    framesDecoded: out.video?.framesDecoded ?? 0,
    framesPerSecond: out.video?.framesPerSecond ?? 0,
    audioPackets: out.audio?.packetsReceived ?? 0,
    audioEnergy: out.audio?.totalAudioEnergy ?? 0,
    at: performance.now(),
  };
}"""
DONE = "() => window.avatarMetrics.liveEvents.some((event) => event.type === 'done')"


def start_live(site: Site, browser: Browser, name: str) -> OpenPage:
    """The page with a live session (no microphone) playing for a second."""
    opened = ready(site.runtime.url, browser, name)
    page = opened.page
    page.click("#tab-live")
    page.uncheck("#live-mic")
    page.click("#live-start")
    page.wait_for_function("() => !document.getElementById('live-say').disabled")
    page.wait_for_function("() => document.getElementById('player').currentTime > 1")
    return opened


def test_a_live_session_plays_idles_and_speaks(site: Site, browser: Browser) -> None:
    opened = start_live(site, browser, "live")
    page = opened.page
    before = page.evaluate(INBOUND)
    page.wait_for_timeout(3000)
    after = page.evaluate(INBOUND)
    seconds = (after["at"] - before["at"]) / 1000
    fps = (after["framesDecoded"] - before["framesDecoded"]) / seconds
    print(f"live in Chromium: {fps:.1f} frames/s decoded, {after['audioPackets']} audio packets")
    assert fps >= 20, fps  # 25 sent
    assert after["audioPackets"] - before["audioPackets"] >= 40 * seconds  # 50 packets/s of 20 ms
    idle_energy = after["audioEnergy"] - before["audioEnergy"]
    opened.shot("idle")

    page.fill("#live-text", "Hello there! It is a lovely day for a walk in the park.")
    page.click("#live-say")
    page.wait_for_function(DONE, timeout=60_000)
    page.wait_for_timeout(500)
    spoken = page.evaluate(INBOUND)
    assert spoken["audioEnergy"] - after["audioEnergy"] > 20 * max(idle_energy, 1e-6)  # the reply was heard
    assert page.locator("#live-log [data-event=sentence]").count() >= 1
    answered = page.inner_text("#live-log [data-event=timing] >> nth=0")
    assert re.fullmatch(r"answered after \d+\.\d s: voiced \d+\.\d\d · sent \d+\.\d\d", answered), answered
    opened.shot("spoke")
    page.click("#live-stop")
    page.wait_for_selector("#live-log [data-event=ended]")
    assert not opened.log.unexpected()


def test_the_page_microphone_is_heard_in_a_live_session(
    site: Site, browser: Browser, speech_wav: Path, listener: Listener
) -> None:
    """Chromium's fake microphone plays the WAV: the session hears it, transcribes it and answers."""
    opened = ready(site.runtime.url, browser, "live-mic")
    page = opened.page
    page.click("#tab-live")
    page.click("#live-start")  # the microphone is on by default
    page.wait_for_selector("#live-log [data-event=heard]", timeout=90_000)
    opened.shot("heard")
    assert_words_of(page.inner_text("#live-log [data-event=heard] >> nth=0"), listener, speech_wav, at_least=3)
    heard = page.evaluate("() => window.avatarMetrics.liveEvents.find((event) => event.type === 'heard')")
    timings = heard["timings"]  # from the end of the speech Chromium sent: the silence heard out, then the words
    assert timings["start"] == "speech_end" and 0 <= timings["turn_end_s"] <= timings["transcript_s"], timings
    captions = page.evaluate("() => window.avatarMetrics.captions")
    assert [caption["text"] for caption in captions if caption.get("who") == "user"][:1] == [heard["text"]]
    page.click("#live-stop")
    assert not opened.log.unexpected()


# The candidate pair Chromium's peer uses, as getStats() says.
SELECTED_PAIR = """async () => {
  const stats = await window.avatarMetrics.livePeer.getStats();
  let pair = null;
  stats.forEach((report) => {
    if (report.type === "transport" && report.selectedCandidatePairId) pair = stats.get(report.selectedCandidatePairId);
  });
  if (!pair) return null;
  const type = (id) => stats.get(id).candidateType;
  return { local: type(pair.localCandidateId), remote: type(pair.remoteCandidateId) };
}"""


@pytest.fixture
def relay_only_runtime(site: Site, tmp_path: Path) -> Iterator[RunningService]:
    """A runtime that hands out TURN credentials for coturn on loopback and tells both peers to relay only."""
    assert site.gpu is not None
    with turn_server(tmp_path) as turn:
        env = {
            "RUNTIME_GPU_SERVICE_URL": site.gpu.url,
            "RUNTIME_DATA_DIR": str(tmp_path / "runtime"),
            "RUNTIME_TURN_URLS": json.dumps(turn.urls),
            "RUNTIME_TURN_SECRET": turn.secret,
            "RUNTIME_ICE_TRANSPORT_POLICY": "relay",
        }
        with run_service("runtime.app:create_app", env, tmp_path) as runtime:
            yield runtime


def test_a_live_session_connects_through_turn_when_only_relays_may_be_used(
    relay_only_runtime: RunningService, browser: Browser
) -> None:
    opened = ready(relay_only_runtime.url, browser, "live-relay")
    page = opened.page
    page.click("#tab-live")
    page.uncheck("#live-mic")
    page.click("#live-start")
    page.wait_for_function("() => document.getElementById('player').currentTime > 1", timeout=30_000)
    page.wait_for_function(f"async () => ({SELECTED_PAIR})() !== null")
    assert page.evaluate(SELECTED_PAIR) == {"local": "relay", "remote": "relay"}
    page.click("#live-stop")
    assert not opened.log.unexpected()
