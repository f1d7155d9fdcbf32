"""The page with API keys configured, and with the gpu_service gone (the runtime's local fallback)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import soundfile as sf
from playwright.sync_api import Browser

from common.media.audio import load_audio
from common.process.launch import RunningService, run_service
from tests.web.conftest import REPO, Site, open_page, runtime_alone
from tests.web.test_page import PLAYED_THIS_CLIP, say

KEY = "page-test-key"


@pytest.fixture
def keyed_runtime(site: Site, tmp_path: Path) -> Iterator[RunningService]:
    assert site.gpu is not None
    env = {
        "RUNTIME_GPU_SERVICE_URL": site.gpu.url,
        "RUNTIME_DATA_DIR": str(tmp_path / "runtime"),
        "RUNTIME_RATE_LIMIT_PER_MINUTE": "0",
        "RUNTIME_API_KEYS": json.dumps([KEY]),
    }
    with run_service("runtime.app:create_app", env, tmp_path) as runtime:
        yield runtime


def test_with_keys_the_page_asks_once_and_works_after(keyed_runtime: RunningService, browser: Browser) -> None:
    opened = open_page(browser, keyed_runtime.url, "key")
    page = opened.page
    page.wait_for_selector("#key-dialog[open]")
    opened.shot("asks-for-key")
    page.fill("#key-input", "wrong-key")
    page.click("#key-form button")
    page.wait_for_selector("#key-dialog[open]")
    assert "not accepted" in page.inner_text("#key-reason")
    page.fill("#key-input", KEY)
    page.click("#key-form button")
    page.wait_for_selector("body[data-ready=true]")
    # The previews are fetched after the page is ready, each on its own: wait for them before counting.
    page.wait_for_function("() => document.querySelectorAll(\"#portraits img[src^='blob:']\").length >= 2")
    assert page.locator("#portraits img[src^='blob:']").count() >= 2  # previews fetched with the key
    say(opened, "The key works.")
    opened.shot("playing-with-key")
    page.reload()  # same browser session: the key is remembered, not asked again
    page.wait_for_selector("body[data-ready=true]")
    assert not page.is_visible("#key-dialog")
    assert not opened.log.unexpected()


def test_with_the_gpu_service_down_a_banner_shows_and_the_fallback_plays(browser: Browser, tmp_path: Path) -> None:
    with runtime_alone(tmp_path) as runtime:
        opened = open_page(browser, runtime.url, "fallback")
        page = opened.page
        page.wait_for_selector("body[data-ready=true]")
        banner = page.locator("#banner")
        assert banner.is_visible()
        assert "not reachable" in banner.inner_text() and "embedded engines" in banner.inner_text()
        opened.shot("banner")
        page.fill("#say-text", "Still here without the service.")
        page.click("#say-button")
        page.wait_for_function(PLAYED_THIS_CLIP)
        opened.shot("fallback-playing")
        assert banner.is_visible()
        assert not opened.log.unexpected()


def test_without_a_fallback_the_refusal_is_shown_as_the_service_words_it(browser: Browser, tmp_path: Path) -> None:
    with runtime_alone(tmp_path, RUNTIME_FALLBACK="off") as runtime:
        opened = open_page(browser, runtime.url, "no-fallback")
        page = opened.page
        page.wait_for_selector("body[data-ready=true]")
        banner = page.inner_text("#banner")
        assert "no fallback" in banner and "gpu_service" in banner
        assert page.locator("#state.error").is_visible()  # the catalog could not load: said in the player too
        opened.shot("refused")
        assert not opened.log.unexpected(allowed=("status of 503",))


def test_your_audio_mode_streams_a_recording_and_plays_the_face_speaking_it(
    site: Site, browser: Browser, tmp_path: Path
) -> None:
    recording = tmp_path / "my-voice.wav"
    samples, rate = load_audio(REPO / "assets" / "voices" / "synthetic_en_female.wav", 16000, 3.0)
    sf.write(recording, samples, rate)  # a voice the avatar never synthesized: someone else's audio
    opened = open_page(browser, site.runtime.url, "your-audio")
    page = opened.page
    page.wait_for_selector("body[data-ready=true]")
    page.click("#tab-audio")
    page.set_input_files("#audio-file", str(recording))
    page.wait_for_function("() => window.avatarMetrics.streamEvents.includes('speaking')", timeout=30_000)
    page.wait_for_function("() => document.getElementById('player').currentTime > 1.0", timeout=30_000)
    opened.shot("your-audio-playing")
    page.wait_for_function("() => window.avatarMetrics.streamEvents.includes('idle')", timeout=30_000)
    played = page.evaluate(
        """() => { const video = document.getElementById("player");
        return { duration: video.duration, audioBytes: video.webkitAudioDecodedByteCount,
                 frames: video.getVideoPlaybackQuality().totalVideoFrames }; }"""
    )
    # The stream (idle frames, then the 3 s spoken, then it ends) played through MSE, sound and all.
    assert played["duration"] >= 3.0 and played["audioBytes"] > 0 and played["frames"] >= 25, played
    assert not opened.log.unexpected()


def test_your_audio_mode_takes_the_microphone_too(site: Site, browser: Browser) -> None:
    opened = open_page(browser, site.runtime.url, "your-microphone")  # Chromium's fake microphone says a sentence
    page = opened.page
    page.wait_for_selector("body[data-ready=true]")
    page.click("#tab-audio")
    page.click("#audio-mic")
    page.wait_for_function("() => window.avatarMetrics.streamEvents.includes('speaking')", timeout=30_000)
    page.wait_for_function("() => document.getElementById('player').currentTime > 1.0", timeout=30_000)
    opened.shot("microphone-playing")
    page.click("#audio-mic")  # stop: what was said is shown, then the stream ends
    page.wait_for_function("() => window.avatarMetrics.firstFrameMs.length === 1", timeout=30_000)
    assert page.get_attribute("#audio-mic", "aria-pressed") == "false"
    assert page.evaluate("() => document.getElementById('player').webkitAudioDecodedByteCount") > 0
    assert not opened.log.unexpected()
