"""Live sessions as the runtime sees them: whose each one is, and its conversation, kept in the conversation store.

The media and the turns happen in the gpu_service; the runtime follows each session's turns as events
(GET /api/v1/sessions/{id}/turns on the gpu_service) and stores each in a conversation as it ends, so a live
conversation can be read like any other, an interrupted reply stored as partial. A session that ends on its own
(the peer left) keeps every turn it had. The records are kept on disk: a runtime that restarts finds its sessions
(still running in the gpu_service) and follows their turns from where it stopped. Each key holds a bounded
number of sessions, offers being answered included.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from common.errors import NotFound, ServiceError
from contracts.gpu_service import SessionInfo, SessionTurn
from contracts.runtime import ChatMessage
from runtime.conversations import ConversationStore, new_id
from runtime.database import Database
from runtime.gpu_client import GpuClient, GpuUnreachable
from runtime.per_key import PerKeyLimit

log = logging.getLogger("runtime.sessions")
RECONNECT_S = 2.0  # after the gpu_service went away: when to try following again
CATCH_UP_S = 5.0  # the longest a GET or DELETE waits for turns still on their way
ENDED_KEEP_S = 60.0  # a session that ended on its own is still known (to its owner) this long
SCHEMA = """
CREATE TABLE IF NOT EXISTS live_sessions (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    copied INTEGER NOT NULL,
    created_at REAL NOT NULL
);
"""


@dataclass
class LiveRecord:
    owner: str
    conversation_id: str
    client: GpuClient
    copied: int = 0  # turns already in the conversation
    task: asyncio.Task[None] | None = field(default=None, repr=False)
    give_back: Callable[[], None] = field(default=lambda: None, repr=False)  # its owner's place
    unreachable: bool = False  # the last copy could not reach the gpu_service (said once, not at every try)
    stored: asyncio.Condition = field(default_factory=asyncio.Condition, repr=False)  # notified per turn stored


class LiveSessionRecords:
    def __init__(self, store: ConversationStore, path: Path, per_key: int) -> None:
        self._store = store
        self._db = Database(path, SCHEMA, "the live sessions database")
        self._records: dict[str, LiveRecord] = {}
        self._places = PerKeyLimit(
            per_key,
            lambda held: (
                f"this key already holds {held} live sessions, the most one key may "
                f"(RUNTIME_LIVE_SESSIONS_PER_KEY={per_key}); end one with DELETE /api/v1/sessions/{{id}}, or wait for "
                "an unconnected offer to expire"
            ),
            retry_after_s=10,
        )

    def resume(self, client: GpuClient) -> int:
        """Follow the sessions a previous run of the runtime left (those that ended meanwhile are dropped at the
        first look). How many there were."""
        rows = self._db.execute("SELECT * FROM live_sessions")
        for row in rows:
            record = LiveRecord(row["owner"], row["conversation_id"], client, copied=row["copied"])
            record.give_back = self._places.take(record.owner, force=True)
            self._records[row["id"]] = record
            record.task = asyncio.create_task(self._follow(row["id"], record))
        return len(rows)

    def reserve(self, owner: str) -> Callable[[], None]:
        """A place for one more session of `owner`'s (offers being answered count), or 429. add() keeps it for the
        session's life; call what this returns if the offer is refused."""
        return self._places.take(owner)

    def add(self, session_id: str, record: LiveRecord, lasting: bool = True) -> None:
        """`lasting`: the session outlives this process (a remote gpu_service's), so its record is kept on disk."""
        self._records[session_id] = record
        record.task = asyncio.create_task(self._follow(session_id, record))
        if not lasting:
            return
        self._db.execute(
            "INSERT OR REPLACE INTO live_sessions (id, owner, conversation_id, copied, created_at) "
            "VALUES (?, ?, ?, ?, ?)",
            session_id,
            record.owner,
            record.conversation_id,
            record.copied,
            time.time(),
        )

    def owned(self, session_id: str, owner: str) -> LiveRecord:
        record = self._records.get(session_id)
        if record is None or record.owner != owner:
            raise NotFound(f"no live session '{session_id}'")
        return record

    async def _store_turn(self, session_id: str, record: LiveRecord, turn: SessionTurn) -> None:
        self._store.save(record.conversation_id, _message(turn))
        record.copied += 1
        self._db.execute("UPDATE live_sessions SET copied = ? WHERE id = ?", record.copied, session_id)
        async with record.stored:
            record.stored.notify_all()

    async def caught_up(self, session_id: str, info: SessionInfo) -> None:
        """Wait (briefly) until the turns `info` shows are stored: what GET shows is in the conversation too."""
        record = self._records.get(session_id)
        if record is None:
            return
        with contextlib.suppress(TimeoutError):
            async with record.stored:
                await asyncio.wait_for(record.stored.wait_for(lambda: record.copied >= len(info.turns)), CATCH_UP_S)

    async def end(self, session_id: str) -> None:
        """The session was closed: its last turns (a reply cut short) are stored as they arrive, then it is gone."""
        record = self._records.get(session_id)
        if record is not None and record.task is not None:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(record.task), CATCH_UP_S)
        self.forget(session_id)

    def forget(self, session_id: str) -> None:
        record = self._records.pop(session_id, None)
        self._db.execute("DELETE FROM live_sessions WHERE id = ?", session_id)
        if record is not None:
            record.give_back()
            if record.task is not None:
                record.task.cancel()

    def _ended(self, session_id: str, record: LiveRecord) -> None:
        """The session ended on its own (the peer left, it idled out): it no longer counts against its key, and
        the record goes after ENDED_KEEP_S, so a DELETE or GET that comes meanwhile still finds whose it was."""
        self._db.execute("DELETE FROM live_sessions WHERE id = ?", session_id)
        record.give_back()
        record.task = None
        asyncio.get_running_loop().call_later(ENDED_KEEP_S, self._drop_ended, session_id, record)

    def _drop_ended(self, session_id: str, record: LiveRecord) -> None:
        if self._records.get(session_id) is record:
            del self._records[session_id]

    async def close_all(self) -> None:
        """The runtime stops: its following stops; the records stay for the next run (the sessions go on)."""
        for record in self._records.values():
            if record.task is not None:
                record.task.cancel()
        self._records.clear()
        self._db.close()

    async def _follow(self, session_id: str, record: LiveRecord) -> None:
        while session_id in self._records:
            try:
                async for turn in record.client.session_turns(session_id, record.copied):
                    await self._store_turn(session_id, record, turn)
                    if record.unreachable:
                        log.info("live session %s: the gpu_service answers again", session_id)
                    record.unreachable = False
                # The turns end with the session, or with a gpu_service that stopped: asked once which it was.
                await record.client.session_info(session_id)
            except NotFound:  # it ended (or did while the runtime was away)
                self._ended(session_id, record)
                return
            except (GpuUnreachable, ServiceError) as exc:
                if not record.unreachable:
                    log.warning("live session %s: turns not stored while the gpu_service is away (%s)", session_id, exc)
                record.unreachable = True
            except Exception:
                with contextlib.suppress(Exception):
                    log.exception("live session %s: storing turns failed", session_id)
            await asyncio.sleep(RECONNECT_S)


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
