"""`/generate` with `stream: true` against the real runtime and gpu_service: the body read as it arrives, decoded
progressively, compared with the stored video; motion measured on decoded frames across segment boundaries."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import numpy as np

from common.media.mp4_boxes import BoxReader
from contracts.runtime import EVENTS_URL_HEADER, VIDEO_ID_HEADER, GenerateResult, VideoEnded
from evaluator.metrics.continuity import continuity, head_position
from evaluator.metrics.face_tracks import count_blinks, track_faces
from evaluator.metrics.lipsync import lip_sync, loudness_per_frame
from gpu_service.speaking import TTS_LOOKAHEAD
from tests.media_stream import decode
from tests.runtime.conftest import Stack
from tests.server_events import ServerEvents, read_events

SENTENCES = [
    "Welcome to the evening news.",
    "Tonight we talk about the weather.",
    "It rained all day in the north.",
    "The south stayed dry and warm.",
    "Tomorrow brings wind from the west.",
    "Farmers will be glad of the rain.",
    "Children will be glad of the sun.",
    "Next week looks calm again.",
    "That is all for tonight.",
    "Thank you for watching, and good night.",
]
TEXT = " ".join(SENTENCES)


def running_records(stack: Stack) -> list[dict[str, object]]:
    """The gpu_service's records of the streams it is making now (their partial files are in its output folder:
    the test sees both sides), as GET /api/v1/speak/{id} gives them while they run."""
    ids = [path.name.removesuffix(".mp4.part") for path in (stack.host_root / "video").glob("*.mp4.part")]
    records = [httpx.get(f"{stack.gpu.url}/api/v1/speak/{speak_id}", timeout=10) for speak_id in ids]
    return [record.json() for record in records if record.status_code == 200]


def test_the_first_fragment_plays_before_the_last_sentence_is_synthesized(stack: Stack) -> None:
    body = {"text": TEXT, "language": "en", "stream": True}
    reader, received, first_fragment = BoxReader(), b"", None
    with httpx.stream("POST", f"{stack.runtime.url}/api/v1/generate", json=body, timeout=300) as response:
        assert response.status_code == 200 and response.headers["content-type"] == "video/mp4"
        video_id = response.headers[VIDEO_ID_HEADER]
        for chunk in response.iter_bytes():
            received += chunk
            boxes = [box.kind for box in reader.feed(chunk)]
            if first_fragment is None and "mdat" in boxes:
                first_fragment = decode(received)  # what a player has at this moment
                (record,) = running_records(stack)
                in_progress = (record["status"], len(record["segments"]))  # type: ignore[arg-type]
    assert first_fragment is not None and first_fragment.frames and first_fragment.audio_s > 0.2
    assert np.abs(first_fragment.audio).max() > 0.05, "the first fragment has sound"
    status, consumed = in_progress
    # Segments are synthesized at most TTS_LOOKAHEAD (+1 in hand) ahead of the one being rendered.
    assert status == "running" and consumed + TTS_LOOKAHEAD + 1 < len(SENTENCES)

    whole = decode(received)
    stored = httpx.get(f"{stack.runtime.url}/api/v1/videos/{video_id}")
    assert stored.status_code == 200
    kept = decode(stored.content)
    assert len(whole.frames) == len(kept.frames) and whole.video_s > 10
    frame = 1 / whole.fps
    assert abs(whole.audio_s - kept.audio_s) <= frame and abs(whole.video_s - kept.video_s) <= frame
    assert whole.synced_within(frame) and kept.synced_within(frame)
    assert len(first_fragment.frames) < len(whole.frames) / 4


def test_motion_continues_across_segment_boundaries(stack: Stack, tmp_path: Path) -> None:
    response = httpx.post(f"{stack.runtime.url}/api/v1/generate", json={"text": TEXT, "language": "en"}, timeout=300)
    assert response.status_code == 200, response.text
    result = GenerateResult.model_validate(response.json())
    assert [segment.text for segment in result.segments] == SENTENCES
    clip = decode(httpx.get(result.video_url).content)
    faces = track_faces(clip.frames)
    loudness = loudness_per_frame(clip.audio, clip.sample_rate, clip.fps, len(clip.frames))
    sync = lip_sync(faces.mouth_open, loudness, clip.fps)
    assert sync.correlation > 0.6 and abs(sync.offset_ms) <= 80, sync  # the mouth follows the audio throughout
    assert count_blinks(faces.eye_open) >= 3, "blinks continue through a 20 s clip"

    boundaries = [round(segment.start_s * clip.fps) for segment in result.segments[1:]]
    face_width = 200.0
    x, y = head_position(faces.landmarks, face_width)
    for name, curve in (("mouth", faces.mouth_open), ("head x", x), ("head y", y)):
        measured = continuity(curve, boundaries)
        assert measured.smooth, f"{name}: step {measured.boundary_step:.4f} at a boundary > {measured.inside_step:.4f}"


def test_a_streamed_videos_sentences_arrive_as_they_are_said(stack: Stack) -> None:
    """X-Events-Url: each sentence as an event while the video streams (the page captions it as it plays), where it
    plays in the video, then how the stream ended; followed again once stored, it answers `done` at once."""
    body = {"text": " ".join(SENTENCES[:3]), "language": "en", "stream": True}
    events: ServerEvents = []
    with httpx.stream("POST", f"{stack.runtime.url}/api/v1/generate", json=body, timeout=300) as response:
        assert response.status_code == 200
        events_url = response.headers[EVENTS_URL_HEADER]
        follower = threading.Thread(target=read_events, args=(f"{stack.runtime.url}{events_url}", events))
        follower.start()
        chunks = response.iter_bytes()
        received = next(chunks)
        deadline = time.monotonic() + 60
        while not events and time.monotonic() < deadline:
            received += next(chunks)  # the first sentence's event comes while the video is still arriving
        assert events and events[0][0] == "sentence", "no sentence before the video's end"
        received += b"".join(chunks)
    follower.join(60)
    names = [name for name, _ in events]
    assert names == ["sentence"] * len(names[:-1]) + ["done"]
    said = [data for name, data in events if name == "sentence"]
    assert [data["text"] for data in said if data["text"]] == SENTENCES[:3]
    starts = [float(str(data["start_s"])) for data in said]
    assert starts == sorted(starts) and starts[0] < 0.2
    ended = VideoEnded.model_validate(events[-1][1])
    assert ended.status == "done" and ended.video_url == f"/api/v1/videos/{response.headers[VIDEO_ID_HEADER]}"
    spoken = decode(received).audio_s
    last = said[-1]
    assert abs(float(str(last["start_s"])) + float(str(last["duration_s"])) - spoken) < 0.3, (last, spoken)
    again: ServerEvents = []
    read_events(f"{stack.runtime.url}{events_url}", again)
    assert [name for name, _ in again] == ["done"]
    assert httpx.get(f"{stack.runtime.url}/api/v1/videos/{'0' * 32}/events").status_code == 404


def test_a_stream_voices_its_first_clause_on_its_own_a_stored_clip_its_whole_sentence(stack: Stack) -> None:
    """A stream is watched as it is made: its first sound waits for its first clause only ("Good evening,"), not
    the whole first sentence. A clip that is waited for keeps its sentences whole."""
    text = "Good evening, and welcome to the program. That is all."
    body = {"text": text, "language": "en", "stream": True}
    events: ServerEvents = []
    with httpx.stream("POST", f"{stack.runtime.url}/api/v1/generate", json=body, timeout=300) as response:
        assert response.status_code == 200
        follower = threading.Thread(
            target=read_events, args=(f"{stack.runtime.url}{response.headers[EVENTS_URL_HEADER]}", events)
        )
        follower.start()
        response.read()
    follower.join(60)
    said = [str(data["text"]) for name, data in events if name == "sentence" and data["text"]]
    assert said == ["Good evening,", "and welcome to the program.", "That is all."]
    waited = httpx.post(f"{stack.runtime.url}/api/v1/generate", json={"text": text, "language": "en"}, timeout=300)
    assert waited.status_code == 200, waited.text
    segments = [segment.text for segment in GenerateResult.model_validate(waited.json()).segments]
    assert segments == ["Good evening, and welcome to the program.", "That is all."]
