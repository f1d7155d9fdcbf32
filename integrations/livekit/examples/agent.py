"""A LiveKit voice agent wearing a Realtime Avatar face.

    pip install -e ../.. -e .            # from integrations/livekit
    export LIVEKIT_URL=... LIVEKIT_API_KEY=... LIVEKIT_API_SECRET=...
    python examples/agent.py dev         # with a Realtime Avatar runtime on http://127.0.0.1:8000

The STT, LLM and TTS here are LiveKit Inference's; any plugin works in their place.
"""

from __future__ import annotations

import os

from livekit.agents import Agent, AgentSession, JobContext, WorkerOptions, cli

from realtime_avatar_livekit import RealtimeAvatar


async def entrypoint(ctx: JobContext) -> None:
    await ctx.connect()
    session = AgentSession(stt="deepgram/nova-3", llm="openai/gpt-4.1-mini", tts="cartesia/sonic-2")
    avatar = RealtimeAvatar(
        os.environ.get("REALTIME_AVATAR_URL", "http://127.0.0.1:8000"),
        portrait=os.environ.get("REALTIME_AVATAR_PORTRAIT"),
        key=os.environ.get("REALTIME_AVATAR_API_KEY"),
    )
    await avatar.start(session, room=ctx.room)
    ctx.add_shutdown_callback(avatar.aclose)
    await session.start(agent=Agent(instructions="You are a friendly assistant. Keep answers short."), room=ctx.room)


if __name__ == "__main__":
    cli.run_app(WorkerOptions(entrypoint_fnc=entrypoint))
