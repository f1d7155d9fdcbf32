"""What a queued job runs: a generate request makes its video, a chat job the reply in its conversation."""

from __future__ import annotations

from dataclasses import dataclass

from common.errors import Conflict
from contracts.runtime import ChatJob
from runtime.jobs import JobRequest, JobResult, StageCallback
from runtime.pipelines import chat
from runtime.pipelines.generate import generate


@dataclass(frozen=True)
class JobDispatch:
    chatting: chat.ChatContext

    async def __call__(self, request: JobRequest, on_stage: StageCallback, owner: str) -> JobResult:
        if not isinstance(request, ChatJob):
            return await generate(request, self.chatting.generating, on_stage, owner)
        await on_stage("replying")
        store = self.chatting.conversations
        user, _ = store.message(request.conversation_id, request.message_id, owner)
        try:
            reply = await chat.open_reply(
                request.conversation_id, request.text, self.chatting, owner, user, stored=True
            )
        except Conflict:  # a reply began after this job was accepted: its turn goes, unanswered, with it
            store.forget(request.conversation_id, user.id)
            raise
        return await reply.consume()
