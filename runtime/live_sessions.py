"""Live sessions as the runtime sees them: whose each one is, and its conversation, kept in the conversation store.

The media and the turns happen in the gpu_service; the runtime copies the turns into a conversation every
SYNC_S (and once more when it ends the session), so a live conversation can be read like any other, an
interrupted reply stored as partial. A session that ends on its own (the peer left) keeps what was copied last.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

from common.errors import NotFound, ServiceError
from contracts.gpu_service import SessionInfo, SessionTurn
from contracts.runtime import ChatMessage
from runtime.conversations import ConversationStore, new_id
from runtime.gpu_client import GpuClient, GpuUnreachable

log = logging.getLogger("runtime.sessions")
SYNC_S = 2.0


@dataclass
class LiveRecord:
    owner: str
    conversation_id: str
    client: GpuClient
    copied: int = 0  # turns already in the conversation
    task: asyncio.Task[None] | None = field(default=None, repr=False)


class LiveSessionRecords:
    def __init__(self, store: ConversationStore) -> None:
        self._store = store
        self._records: dict[str, LiveRecord] = {}

    def add(self, session_id: str, record: LiveRecord) -> None:
        self._records[session_id] = record
        record.task = asyncio.create_task(self._follow(session_id, record))

    def owned(self, session_id: str, owner: str) -> LiveRecord:
        record = self._records.get(session_id)
        if record is None or record.owner != owner:
            raise NotFound(f"no live session '{session_id}'")
        return record

    def copy(self, session_id: str, info: SessionInfo) -> None:
        record = self._records.get(session_id)
        if record is None:
            return
        for turn in info.turns[record.copied :]:
            self._store.save(record.conversation_id, _message(turn))
        record.copied = len(info.turns)

    def forget(self, session_id: str) -> None:
        record = self._records.pop(session_id, None)
        if record is not None and record.task is not None:
            record.task.cancel()

    async def close_all(self) -> None:
        for session_id in list(self._records):
            self.forget(session_id)

    async def _follow(self, session_id: str, record: LiveRecord) -> None:
        while session_id in self._records:
            await asyncio.sleep(SYNC_S)
            try:
                self.copy(session_id, await record.client.session_info(session_id))
            except NotFound:  # it ended on its own
                self._records.pop(session_id, None)
                return
            except (GpuUnreachable, ServiceError) as exc:
                log.warning("live session %s: turns not copied this time (%s)", session_id, exc)
            except Exception:
                with contextlib.suppress(Exception):
                    log.exception("live session %s: copying turns failed", session_id)


def _message(turn: SessionTurn) -> ChatMessage:
    interrupted = turn.status == "interrupted"
    return ChatMessage(
        id=new_id(),
        role=turn.role,
        text=turn.text,
        language=turn.language,
        status="partial" if interrupted else "done",
        created_at=datetime.now(UTC),
        error="interrupted: the user spoke over it, or asked it to stop" if interrupted else None,
    )
