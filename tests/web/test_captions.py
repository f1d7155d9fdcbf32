"""Captions as the avatar speaks, in Chromium: a streamed clip's sentences on screen as each starts playing (cues
added from the stream's sentence events), and a live session's sentences when their first sound plays, the user's
own words as heard. Target: each caption within 100 ms of its sentence's first frame."""

from __future__ import annotations

from playwright.sync_api import Browser

from tests.web.conftest import Site
from tests.web.test_page import PLAYED_THIS_CLIP, ready
from tests.web.test_page_live import start_live

SENTENCES = ["Good morning to you all.", "The weather is fine today.", "We will walk along the river."]
WITHIN_MS = 100

# Every frame the player presents: where it is on the clip's timeline, and when it is shown.
LOG_FRAMES = """() => {
  const video = document.querySelector('#player');
  window.framesShown = [];
  const step = (now, frame) => {
    window.framesShown.push({ mediaTime: frame.mediaTime, shownAt: frame.expectedDisplayTime });
    video.requestVideoFrameCallback(step);
  };
  video.requestVideoFrameCallback(step);
}"""
ENDED = """() => { const video = document.querySelector('#player');
  return video.ended || video.currentTime >= video.duration - 0.05; }"""

# The loudness of the live session's sound as it plays, sampled every 5 ms: when each burst of speech begins.
LISTEN_LIVE = """() => {
  const context = new AudioContext();
  const analyser = context.createAnalyser();
  context.createMediaStreamSource(document.querySelector('#player').srcObject).connect(analyser);
  const samples = new Float32Array(analyser.fftSize);
  window.soundOnsets = [];
  let quietSince = performance.now();
  setInterval(() => {
    analyser.getFloatTimeDomainData(samples);
    const rms = Math.sqrt(samples.reduce((sum, value) => sum + value * value, 0) / samples.length);
    const now = performance.now();
    if (rms < 0.01) {
      quietSince = quietSince ?? now;
    } else if (quietSince !== null) {
      if (now - quietSince > 250) window.soundOnsets.push(now);
      quietSince = null;
    }
  }, 5);
  return context.state;
}"""


def test_a_streamed_clips_sentences_are_captioned_as_each_plays(site: Site, browser: Browser) -> None:
    opened = ready(site.runtime.url, browser, "captions-clip")
    page = opened.page
    page.evaluate(LOG_FRAMES)
    page.fill("#say-text", " ".join(SENTENCES))
    page.click("#say-button")
    page.wait_for_function(PLAYED_THIS_CLIP)
    page.wait_for_function("() => (window.avatarMetrics.captions || []).length >= 1")
    opened.shot("first-caption")
    page.wait_for_function(ENDED, timeout=60_000)
    shown = page.evaluate("() => window.avatarMetrics.captions")
    frames = page.evaluate("() => window.framesShown")
    assert [caption["text"] for caption in shown] == SENTENCES, shown
    for caption in shown:
        first = next(frame for frame in frames if frame["mediaTime"] >= caption["start"] - 0.02)
        late_ms = caption["shownAt"] - first["shownAt"]
        print(f"caption {caption['text']!r}: {late_ms:+.0f} ms from its first frame")
        assert abs(late_ms) <= WITHIN_MS, (caption, first)
    assert not opened.log.unexpected()


def test_a_live_sessions_sentences_are_captioned_when_they_are_heard(site: Site, browser: Browser) -> None:
    opened = start_live(site, browser, "captions-live")
    page = opened.page
    assert page.evaluate(LISTEN_LIVE) == "running"
    page.fill("#live-text", SENTENCES[0])
    page.click("#live-say")
    page.wait_for_function("() => (window.avatarMetrics.captions || []).length >= 1", timeout=60_000)
    opened.shot("live-caption")
    assert page.inner_text("#caption") == SENTENCES[0]
    page.wait_for_function("() => window.soundOnsets.length >= 1", timeout=10_000)
    caption = page.evaluate("() => window.avatarMetrics.captions[0]")
    onset = page.evaluate("() => window.soundOnsets[0]")
    late_ms = caption["shownAt"] - onset
    print(f"live caption: {late_ms:+.0f} ms from the sentence's first sound")
    assert abs(late_ms) <= WITHIN_MS, (caption, onset)
    page.click("#live-stop")
    assert not opened.log.unexpected()
