"""The page's live mode in Chromium: a WebRTC session with the avatar through the runtime's signaling."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from common.process.launch import RunningService, free_port, run_service
from evaluator.metrics.intelligibility import Listener
from tests.turn_server import turn_server
from tests.web.conftest import OpenPage, Site
from tests.web.test_page import PLAYED_THIS_CLIP, assert_words_of, ready

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


def begin_live(url: str, browser: Browser, name: str) -> OpenPage:
    """The page at `url`, its Live tab asked to start a session without the microphone."""
    opened = ready(url, browser, name)
    opened.page.click("#tab-live")
    opened.page.uncheck("#live-mic")
    opened.page.click("#live-start")
    return opened


def start_live(site: Site, browser: Browser, name: str) -> OpenPage:
    """The page with a live session (no microphone) playing for a second."""
    opened = begin_live(site.runtime.url, browser, name)
    opened.page.wait_for_function("() => !document.getElementById('live-say').disabled")
    opened.page.wait_for_function("() => document.getElementById('player').currentTime > 1")
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


@contextmanager
def relay_only(site: Site, tmp_path: Path, turn_urls: list[str], secret: str) -> Iterator[RunningService]:
    """A runtime (beside the site's gpu_service) that tells both peers of its sessions to relay through
    `turn_urls` only, with credentials signed with `secret`."""
    assert site.gpu is not None
    env = {
        "RUNTIME_GPU_SERVICE_URL": site.gpu.url,
        "RUNTIME_DATA_DIR": str(tmp_path / "runtime"),
        "RUNTIME_RATE_LIMIT_PER_MINUTE": "0",
        "RUNTIME_TURN_URLS": json.dumps(turn_urls),
        "RUNTIME_TURN_SECRET": secret,
        "RUNTIME_ICE_TRANSPORT_POLICY": "relay",
    }
    with run_service("runtime.app:create_app", env, tmp_path) as runtime:
        yield runtime


@pytest.fixture
def relay_only_runtime(site: Site, tmp_path: Path) -> Iterator[RunningService]:
    """Relay only, through coturn on loopback."""
    with turn_server(tmp_path) as turn, relay_only(site, tmp_path, turn.urls, turn.secret) as runtime:
        yield runtime


def test_a_live_session_connects_through_turn_when_only_relays_may_be_used(
    relay_only_runtime: RunningService, browser: Browser
) -> None:
    opened = begin_live(relay_only_runtime.url, browser, "live-relay")
    page = opened.page
    page.wait_for_function("() => document.getElementById('player').currentTime > 1", timeout=30_000)
    page.wait_for_function(f"async () => ({SELECTED_PAIR})() !== null")
    assert page.evaluate(SELECTED_PAIR) == {"local": "relay", "remote": "relay"}
    page.click("#live-stop")
    assert not opened.log.unexpected()


@pytest.fixture
def unreachable_relay_runtime(site: Site, tmp_path: Path) -> Iterator[RunningService]:
    """Relay only, through a TURN server nobody answers at: WebRTC cannot connect, as behind a firewall that drops
    UDP with no reachable relay."""
    closed = f"turn:127.0.0.1:{free_port()}"
    with relay_only(site, tmp_path, [f"{closed}?transport=udp", f"{closed}?transport=tcp"], "unused") as runtime:
        yield runtime


def test_without_a_webrtc_connection_the_live_tab_goes_on_over_http(
    unreachable_relay_runtime: RunningService, browser: Browser
) -> None:
    opened = begin_live(unreachable_relay_runtime.url, browser, "live-fallback")
    page = opened.page
    page.wait_for_selector("#live-log [data-event=fallback]", timeout=30_000)
    assert "goes on over HTTP streaming" in page.inner_text("#live-log [data-event=fallback]")
    opened.shot("fell-back")
    page.fill("#live-text", "Hello over plain HTTP.")
    page.click("#live-say")
    page.wait_for_function(PLAYED_THIS_CLIP)
    page.fill("#live-text", "What is your name?")
    page.click("#live-ask")
    page.wait_for_selector("#live-log [data-event=sentence]", timeout=60_000)  # the reply, said as it was written
    page.wait_for_function(PLAYED_THIS_CLIP)
    opened.shot("answered-over-http")
    assert page.locator("#history li").count() == 2
    page.click("#live-stop")
    page.wait_for_selector("#live-log [data-event=ended]")
    assert not opened.log.unexpected()


def test_without_a_webrtc_connection_the_microphone_is_still_heard_and_answered(
    unreachable_relay_runtime: RunningService, browser: Browser, speech_wav: Path, listener: Listener
) -> None:
    """Chromium's fake microphone plays the WAV: over HTTP, its utterances are cut by loudness, sent, transcribed
    and answered."""
    opened = ready(unreachable_relay_runtime.url, browser, "live-fallback-mic")
    page = opened.page
    page.click("#tab-live")
    page.click("#live-start")  # the microphone is on by default
    page.wait_for_selector("#live-log [data-event=fallback]", timeout=30_000)
    page.wait_for_selector("#live-log [data-event=heard]", timeout=90_000)
    assert_words_of(page.inner_text("#live-log [data-event=heard] >> nth=0"), listener, speech_wav, at_least=3)
    # The answer starts playing (the fake microphone talks on without a pause, so it is soon spoken over).
    page.wait_for_function("() => window.avatarMetrics.firstFrameMs.length >= 1", timeout=120_000)
    opened.shot("heard-over-http")
    page.click("#live-stop")
    assert not opened.log.unexpected()
