"""The page against both services: say a sentence and watch it stream, uploads and refusals, clip history,
spoken chat input through Chromium's fake microphone."""

from __future__ import annotations

import io
from pathlib import Path

import av
import cv2
import httpx
import numpy as np
import soundfile as sf
from playwright.sync_api import Browser

from evaluator.metrics.intelligibility import Listener, normalize_text
from tests.web.conftest import REPO, OpenPage, Site, open_page

ASSETS = REPO / "assets"

# Played, decoded, with sound: what the page's <video> says about itself.
PLAYBACK = """() => {
  const video = document.getElementById("player");
  const quality = video.getVideoPlaybackQuality();
  return {
    readyState: video.readyState,
    currentTime: video.currentTime,
    decodedFrames: quality.totalVideoFrames,
    droppedFrames: quality.droppedVideoFrames,
    audioBytes: video.webkitAudioDecodedByteCount,
    firstFrameMs: window.avatarMetrics.firstFrameMs.at(-1) ?? null,
    width: video.getBoundingClientRect().width,
  };
}"""


PLAYED_THIS_CLIP = """() => window.avatarMetrics.firstFrameMs.length === window.avatarMetrics.clicks
  && document.getElementById("player").currentTime > 0.5"""


# A DataTransfer holding one file (fetched from the runtime), as a drag from the desktop would bring.
DROPPED_FILE = """async (path) => {
  const transfer = new DataTransfer();
  const blob = await (await fetch(path)).blob();
  transfer.items.add(new File([blob], path.split("/").at(-2) + ".wav", { type: "audio/wav" }));
  return transfer;
}"""


def ready(site_url: str, browser: Browser, name: str) -> OpenPage:
    opened = open_page(browser, site_url, name)
    opened.page.wait_for_selector("body[data-ready=true]")
    return opened


POSTER_SIDE = """async () => {
  const image = new Image();
  image.src = document.querySelector('#player').poster;
  await image.decode();
  return Math.max(image.naturalWidth, image.naturalHeight);
}"""


def say(opened: OpenPage, text: str) -> dict[str, float]:
    """Type, click, wait until this clip's first frame was shown and it has played a little; the figures."""
    page = opened.page
    page.fill("#say-text", text)
    page.click("#say-button")
    page.wait_for_function(PLAYED_THIS_CLIP)
    return page.evaluate(PLAYBACK)  # type: ignore[no-any-return]


def test_a_typed_sentence_streams_with_picture_and_sound(site: Site, browser: Browser) -> None:
    opened = ready(site.runtime.url, browser, "say")
    page = opened.page
    opened.shot("loaded")
    assert "embedded" in page.inner_text("#engines")
    assert "replies in English only" in page.inner_text("#engines")  # the embedded chat model, said plainly
    assert page.locator("#portraits img").count() >= 2  # the bundled portraits, each with its thumbnail
    page.wait_for_function("() => document.querySelector('#player').poster.startsWith('blob:')")
    poster_side = page.evaluate(POSTER_SIDE)
    # The default portrait at the frame's size (512) or its own if smaller (astronaut.png is 320 px), not the
    # list's thumbnail enlarged.
    assert poster_side == 320, poster_side
    frame_before = page.locator(".frame").bounding_box()

    played = say(opened, "Hello, I am glad you are here.")
    opened.shot("playing")
    assert played["readyState"] >= 3
    assert played["currentTime"] > 0.5
    assert played["decodedFrames"] >= 10  # half a second at 25 fps
    assert played["audioBytes"] > 2_000  # compressed audio decoded (AAC, ~0.5 s)
    assert played["firstFrameMs"] is not None
    print(f"click to first frame: {played['firstFrameMs']} ms")
    assert page.locator(".frame").bounding_box() == frame_before  # no layout jump when the video starts
    assert page.locator("#history li").count() == 1
    # Captions: the sentence as written, shown over the clip as it plays, timed to the speech.
    page.wait_for_function("() => !document.getElementById('caption').hidden")
    opened.shot("captions")
    assert page.inner_text("#caption") == "Hello, I am glad you are here."
    page.wait_for_function("() => document.querySelector('#player').ended", timeout=20_000)
    cues = page.evaluate("() => window.avatarMetrics.captionCues")
    assert [cue["text"] for cue in cues] == ["Hello, I am glad you are here."], cues
    duration = page.evaluate("() => document.querySelector('#player').duration")
    assert cues[0]["start"] < 0.2 and abs(cues[0]["end"] - duration) < 0.2, (cues, duration)

    # The clip's history entry: download the MP4, copy its link, replay it.
    with page.expect_download() as download:
        page.click("#history li >> text=Download")
    saved = Path(download.value.path())
    with av.open(str(saved)) as container:
        assert container.streams.video and container.streams.audio
        assert float(container.duration or 0) / av.time_base > 1.0
    page.click("#history li >> text=Copy link")
    link = page.evaluate("() => navigator.clipboard.readText()")
    assert link.startswith(site.runtime.url + "/api/v1/videos/")
    assert httpx.get(link).content == saved.read_bytes()
    page.click("#history li >> text=Replay")
    page.wait_for_function(PLAYED_THIS_CLIP)
    opened.shot("replayed")
    assert not opened.log.unexpected()


def test_a_second_sentence_plays_soon_after_the_click(site: Site, browser: Browser) -> None:
    """Click to first frame on warm services (engines loaded, portrait analysed): the figure the page shows."""
    opened = ready(site.runtime.url, browser, "warm")
    say(opened, "This first sentence warms the engines up.")
    played = say(opened, "Good morning to you.")
    print(f"warm click to first frame: {played['firstFrameMs']} ms")
    assert played["firstFrameMs"] < 10_000  # a sanity bound only; the figure itself is reported by make bench
    assert not opened.log.unexpected()


def test_uploads_through_the_file_chooser_are_used_and_refusals_shown(
    site: Site, browser: Browser, tmp_path: Path
) -> None:
    opened = ready(site.runtime.url, browser, "uploads")
    page = opened.page
    wall = tmp_path / "wall.png"
    cv2.imwrite(str(wall), np.full((256, 256, 3), 200, np.uint8))
    page.set_input_files("#portrait-file", str(wall))
    page.wait_for_function("() => document.getElementById('portrait-message').classList.contains('error')")
    opened.shot("no-face-refused")
    assert page.inner_text("#portrait-message").startswith("no face found in wall.png: use a photo")

    face = tmp_path / "my-face.png"
    face.write_bytes((ASSETS / "images" / "astronaut.png").read_bytes())
    page.set_input_files("#portrait-file", str(face))
    page.wait_for_selector("#portraits .choice:has-text('my-face.png') img[src^='blob:']")
    page.set_input_files("#voice-file", str(ASSETS / "voices" / "synthetic_en_female.wav"))
    page.wait_for_selector("#voices .choice:has-text('synthetic_en_female.wav')")
    # Drag and drop: a file dropped on the voice box is uploaded like a chosen one.
    dropped = page.evaluate_handle(DROPPED_FILE, "/api/v1/voices/synthetic_es_male/preview")
    page.dispatch_event("#voice-box", "drop", {"dataTransfer": dropped})
    page.wait_for_selector("#voices .choice:has-text('synthetic_es_male.wav')")
    assert page.is_checked("#portraits .choice:has-text('my-face.png') input")
    assert page.is_checked("#voices .choice:has-text('synthetic_es_male.wav') input")
    opened.shot("uploaded")

    with page.expect_request("**/api/v1/generate") as sent:
        say(opened, "Hola, ¿cómo estás hoy?")
    request = sent.value.post_data_json
    assert request is not None
    assert request["portrait"].startswith("p_") and request["voice"].startswith("v_")
    opened.shot("speaking-with-uploads")
    assert not opened.log.unexpected(allowed=("status of 422",))  # the refusal's own network line, nothing else


def test_a_voice_sample_recorded_from_the_microphone_reaches_the_service_intact(
    site: Site, browser: Browser, speech_wav: Path, listener: Listener
) -> None:
    opened = ready(site.runtime.url, browser, "record-voice")
    page = opened.page
    page.click("#record-voice")
    page.wait_for_timeout(4500)
    opened.shot("recording")
    page.click("#record-voice")
    page.wait_for_selector("#voices .choice:has-text('recording.webm')")
    voice_id = page.evaluate("() => JSON.parse(localStorage.getItem('realtime-avatar.choice')).voice")
    preview = httpx.get(f"{site.runtime.url}/api/v1/voices/{voice_id}/preview")
    assert preview.status_code == 200
    samples, rate = sf.read(io.BytesIO(preview.content), dtype="float32")
    assert len(samples) / rate > 2.5  # silences trimmed, most of 4.5 s of speech kept
    assert_same_words(listener, samples, rate, speech_wav)
    assert not opened.log.unexpected()


def assert_same_words(listener: Listener, samples: np.ndarray, rate: int, original: Path) -> None:
    """What Whisper hears in the recording is (mostly) words of the original file, heard the same way."""
    assert_words_of(listener.hear(samples, rate, "en").transcript, listener, original)


def assert_words_of(heard_text: str, listener: Listener, original: Path, at_least: int = 4) -> None:
    """`heard_text` (a transcript made somewhere) is mostly words of `original` as Whisper hears the whole file."""
    heard = set(normalize_text(heard_text, "en").split())
    reference, rate = sf.read(original, dtype="float32")
    expected = set(normalize_text(listener.hear(reference, rate, "en").transcript, "en").split())
    assert len(heard) >= at_least and len(heard & expected) >= 0.7 * len(heard), (heard, expected)


def test_chat_typed_and_spoken_replies_stream_beside_their_text(
    site: Site, browser: Browser, speech_wav: Path, listener: Listener
) -> None:
    opened = ready(site.runtime.url, browser, "chat")
    page = opened.page
    page.click("#tab-chat")
    assert page.inner_text("#persona-name") == "Ava"
    assert "{name}" in page.input_value("#persona-prompt")  # the persona's prompt, shown and editable
    page.fill("#chat-text", "What is your name?")
    page.click("#chat-send")
    page.wait_for_function(PLAYED_THIS_CLIP)
    page.wait_for_selector("#chat-log .bubble.assistant:not(:has-text('…'))")
    opened.shot("typed-reply")
    bubbles = page.locator("#chat-log .bubble")
    assert bubbles.count() == 2
    assert "What is your name?" in bubbles.nth(0).inner_text()
    reply_text = bubbles.nth(1).locator(".text").inner_text()
    assert len(reply_text.split()) >= 3
    # The reply's first sentence was captioned as it played (from the same events as its bubble's text).
    first_caption = page.evaluate("() => window.avatarMetrics.captions[0]?.text")
    assert first_caption and reply_text.startswith(first_caption), (first_caption, reply_text)

    # Hold to talk: Chromium's fake microphone plays the WAV; the transcript becomes the user's turn.
    talk = page.locator("#talk")
    talk.dispatch_event("pointerdown")
    page.wait_for_timeout(4500)
    talk.dispatch_event("pointerup")
    page.wait_for_selector("#chat-log .bubble.user[data-spoken=true]")
    page.wait_for_function(PLAYED_THIS_CLIP)
    page.wait_for_selector("#chat-log .bubble.assistant:nth-child(4):not(:has-text('…'))")
    opened.shot("spoken-reply")
    conversation_id = page.evaluate("() => localStorage.getItem('realtime-avatar.conversation')")
    stored = httpx.get(f"{site.runtime.url}/api/v1/conversations/{conversation_id}").json()
    spoken = stored["messages"][2]
    assert spoken["role"] == "user" and spoken["audio_s"] > 3
    assert_words_of(spoken["text"], listener, speech_wav)
    assert stored["messages"][3]["status"] == "done"
    assert page.locator("#history li").count() == 2
    assert not opened.log.unexpected()


def test_keyboard_alone_and_phone_width(site: Site, browser: Browser) -> None:
    opened = open_page(browser, site.runtime.url, "phone", viewport=(390, 844))
    page = opened.page
    page.wait_for_selector("body[data-ready=true]")
    unlabeled = page.evaluate(UNLABELED_CONTROLS)
    assert unlabeled == [], unlabeled
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")  # no sideways scroll
    page.focus("#tab-say")
    page.keyboard.press("Tab")  # into the text box
    page.keyboard.type("Typed without a mouse.")
    page.keyboard.press("Tab")  # language
    page.keyboard.press("Tab")  # Say it
    assert page.evaluate("() => document.activeElement.id") == "say-button"
    page.keyboard.press("Enter")
    page.wait_for_function(PLAYED_THIS_CLIP)
    opened.shot("phone-playing")
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
    assert not opened.log.unexpected()


# Every control has a name a screen reader can say: a <label>, aria-label, or its own text.
UNLABELED_CONTROLS = """() => [...document.querySelectorAll("input, select, textarea, button")]
  .filter((control) => !(control.labels?.length || control.getAttribute("aria-label") || control.textContent.trim()))
  .map((control) => control.outerHTML)"""
