"""Conversation suites: each turn is a user message; the clip scored is the avatar's reply (text, sound, video)."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import urlparse

import httpx

from common.media.mp4_boxes import BoxReader
from contracts.runtime import Conversation, MessageRequest, Persona
from evaluator.report.schema import ClipReport
from evaluator.suites import Scenario


class ConversationFailed(RuntimeError):
    pass


def start_conversation(client: httpx.Client, url: str, scenario: Scenario) -> str:
    persona = Persona(voice=scenario.voice, portrait=scenario.portrait)
    if scenario.persona_name:
        persona.name = scenario.persona_name
    if scenario.system_prompt:
        persona.system_prompt = scenario.system_prompt
    response = client.post(f"{url}/api/v1/conversations", json=persona.model_dump(exclude_none=True), timeout=30)
    if response.status_code != 201:
        raise ConversationFailed(f"starting a conversation: HTTP {response.status_code}: {response.text[:300]}")
    return str(response.json()["id"])


def reply_clip(
    client: httpx.Client, url: str, conversation_id: str, clip: ClipReport, destination: Path, timeout_s: float
) -> bool:
    """Send the clip's prompt, time the reply's first fragment, download its stored video; False (with
    `clip.error`) when there is no reply to score."""
    assert clip.prompt is not None
    body = MessageRequest(text=clip.prompt, stream=True).model_dump()
    reader = BoxReader()
    started = time.perf_counter()
    try:
        with client.stream(
            "POST", f"{url}/api/v1/conversations/{conversation_id}/messages", json=body, timeout=timeout_s
        ) as response:
            if response.status_code != 200:
                response.read()
                clip.error = f"HTTP {response.status_code}: {response.text[:300]}"
                return False
            message_id = response.headers["x-message-id"]
            for chunk in response.iter_bytes():
                if clip.first_video_s is None and any(box.kind == "mdat" for box in reader.feed(chunk)):
                    clip.first_video_s = time.perf_counter() - started
        clip.client_s = time.perf_counter() - started
        conversation = Conversation.model_validate(
            client.get(f"{url}/api/v1/conversations/{conversation_id}", timeout=30).json()
        )
        reply = next(message for message in conversation.messages if message.id == message_id)
        clip.text, clip.language_used, clip.reply_finish = reply.text, reply.language, reply.finish
        clip.video_id = reply.video_id
        if reply.status != "done" or reply.video_url is None:
            clip.error = f"the reply ended {reply.status}: {reply.error}"
            return False
        spoken_s = max((segment.start_s + segment.duration_s for segment in reply.segments), default=0.0)
        if reply.timings is not None and reply.timings.total_s and spoken_s:
            clip.rtf = reply.timings.total_s / spoken_s
        destination.parent.mkdir(parents=True, exist_ok=True)
        with client.stream("GET", url + urlparse(reply.video_url).path, timeout=timeout_s) as download:
            download.raise_for_status()
            with destination.open("wb") as out:
                for data in download.iter_bytes():
                    out.write(data)
    except (httpx.HTTPError, StopIteration) as error:
        clip.error = f"{type(error).__name__}: {error}"
        return False
    return True
