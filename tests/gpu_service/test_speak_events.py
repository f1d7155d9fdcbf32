"""A video stream's progress as events: GET /api/v1/speak/{id}/events sends each segment as it goes into the video,
then the record; a listener that comes late gets what it missed; the record is on disk only once the stream ended."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx

from common.http import sse
from common.process.launch import RunningService
from contracts.gpu_service import SPEAK_ID_HEADER, SpeakEvent, SpeakResult

SENTENCES = ["The first sentence is short.", "Here comes the second one.", "And the third ends it."]


async def follow(client: httpx.AsyncClient, speak_id: str) -> list[SpeakEvent]:
    async with client.stream("GET", f"/api/v1/speak/{speak_id}/events", timeout=120) as answer:
        assert answer.status_code == 200 and answer.headers["content-type"].startswith(sse.MEDIA_TYPE)
        return [SpeakEvent.model_validate_json(data) async for data in sse.data_of(answer.aiter_lines())]


async def speak_and_follow(service: RunningService, output_root: Path) -> tuple[list[SpeakEvent], list[bool]]:
    """The events of one /speak stream, followed from its first fragment; whether its record was on disk at each."""
    body = {"text": " ".join(SENTENCES), "language": "en", "size": 256}
    async with httpx.AsyncClient(base_url=service.url, timeout=120) as client:
        async with client.stream("POST", "/api/v1/speak", json=body) as video:
            assert video.status_code == 200
            speak_id = video.headers[SPEAK_ID_HEADER]
            record = output_root / "video" / f"{speak_id}.json"
            listening = asyncio.create_task(follow(client, speak_id))
            on_disk = []
            async for _ in video.aiter_bytes():
                on_disk.append(record.exists())
        events = await listening
        late = await follow(client, speak_id)  # after the end: the whole story again
    assert [event.model_dump() for event in late] == [event.model_dump() for event in events]
    return events, on_disk


def test_segments_arrive_as_events_then_the_record(gpu_service: RunningService, gpu_output_root: Path) -> None:
    events, on_disk = asyncio.run(speak_and_follow(gpu_service, gpu_output_root))
    kinds = [event.type for event in events]
    assert kinds == ["segment"] * len(SENTENCES) + ["end"], kinds
    assert [event.index for event in events] == list(range(len(events)))
    assert [event.segment.text for event in events if event.segment] == SENTENCES
    starts = [event.segment.start_s for event in events if event.segment]
    assert starts == sorted(starts) and starts[0] == 0.0
    final = events[-1].result
    assert final is not None and final.status == "done" and len(final.segments) == len(SENTENCES)
    assert not any(on_disk[:-1]), "the record was written while the stream ran (it is written once, at the end)"
    stored = SpeakResult.model_validate_json((Path(final.video_path or "").with_suffix(".json")).read_text())
    assert json.loads(stored.model_dump_json()) == json.loads(final.model_dump_json())


def test_an_unknown_stream_has_no_events(gpu_service: RunningService) -> None:
    answer = httpx.get(f"{gpu_service.url}/api/v1/speak/{'0' * 32}/events", timeout=10)
    assert answer.status_code == 404 and "no stream" in answer.json()["detail"]
