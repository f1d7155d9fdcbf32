"""Conversations and their messages, in SQLite beside the jobs: owned by the API key that started them."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from common.errors import NotFound
from contracts.runtime import ChatMessage, Conversation, Persona
from runtime.database import Database

SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    persona TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
    id TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations (id),
    status TEXT NOT NULL,
    speak_id TEXT,
    body TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_in_order ON messages (conversation_id, created_at);
"""
INTERRUPTED = "interrupted: the runtime stopped while this reply was being made"


def new_id() -> str:
    return uuid.uuid4().hex


class ConversationStore:
    def __init__(self, path: Path) -> None:
        self._db = Database(path, SCHEMA, "the conversations database")

    def close(self) -> None:
        self._db.close()

    def create(self, persona: Persona, owner: str) -> Conversation:
        conversation = Conversation(id=new_id(), persona=persona, created_at=datetime.now(UTC))
        self._db.execute(
            "INSERT INTO conversations (id, owner, persona, created_at) VALUES (?, ?, ?, ?)",
            conversation.id,
            owner,
            persona.model_dump_json(),
            time.time(),
        )
        return conversation

    def get(self, conversation_id: str, owner: str) -> Conversation:
        """With its messages; other keys' conversations do not exist for `owner`."""
        rows = self._db.execute("SELECT * FROM conversations WHERE id = ? AND owner = ?", conversation_id, owner)
        if not rows:
            raise NotFound(f"no conversation '{conversation_id}'")
        row = rows[0]
        return Conversation(
            id=row["id"],
            persona=Persona.model_validate_json(row["persona"]),
            created_at=datetime.fromtimestamp(row["created_at"], UTC),
            messages=self.messages(conversation_id),
        )

    def messages(self, conversation_id: str) -> list[ChatMessage]:
        rows = self._db.execute(
            "SELECT body FROM messages WHERE conversation_id = ? ORDER BY created_at, rowid", conversation_id
        )
        return [ChatMessage.model_validate_json(row["body"]) for row in rows]

    def message(self, conversation_id: str, message_id: str, owner: str) -> tuple[ChatMessage, str | None]:
        """A message of `owner`'s conversation, and the id of the gpu_service stream speaking it (while running)."""
        self.get(conversation_id, owner)
        rows = self._db.execute(
            "SELECT body, speak_id FROM messages WHERE id = ? AND conversation_id = ?", message_id, conversation_id
        )
        if not rows:
            raise NotFound(f"no message '{message_id}' in conversation '{conversation_id}'")
        return ChatMessage.model_validate_json(rows[0]["body"]), rows[0]["speak_id"]

    def save(self, conversation_id: str, message: ChatMessage, speak_id: str | None = None) -> None:
        """Add the message, or store its new state (its place in the conversation stays)."""
        self._db.execute(
            "INSERT INTO messages (id, conversation_id, status, speak_id, body, created_at) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET status = excluded.status, body = excluded.body, "
            "speak_id = COALESCE(excluded.speak_id, messages.speak_id)",
            message.id,
            conversation_id,
            message.status,
            speak_id,
            message.model_dump_json(),
            time.time(),
        )

    def forget(self, conversation_id: str, message_id: str) -> None:
        """Remove a message that will not be answered (its reply was refused)."""
        self._db.execute("DELETE FROM messages WHERE id = ? AND conversation_id = ?", message_id, conversation_id)

    def running_reply(self, conversation_id: str) -> bool:
        rows = self._db.execute(
            "SELECT 1 FROM messages WHERE conversation_id = ? AND status = 'running' LIMIT 1", conversation_id
        )
        return bool(rows)

    def recover_interrupted(self) -> None:
        """Replies left running by a stopped process: marked failed (their partial text is unknown here)."""
        for row in self._db.execute("SELECT conversation_id, body FROM messages WHERE status = 'running'"):
            message = ChatMessage.model_validate_json(row["body"])
            failed = message.model_copy(update={"status": "failed", "error": INTERRUPTED})
            self.save(row["conversation_id"], failed)
