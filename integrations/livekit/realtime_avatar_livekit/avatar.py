"""The face of a LiveKit agent, in one call: the agent session's audio goes to Realtime Avatar instead of the room;
livekit's own AvatarRunner publishes the face and the same audio, in sync, from the agent's participant."""

from __future__ import annotations

from livekit import rtc
from livekit.agents import AgentSession
from livekit.agents.voice.avatar import AvatarOptions, AvatarRunner, QueueAudioOutput

from contracts.avatar_stream import StreamStart
from realtime_avatar_livekit.video_generator import RealtimeAvatarVideo


class RealtimeAvatar:
    def __init__(
        self,
        url: str = "http://127.0.0.1:8000",
        *,
        portrait: str | None = None,
        size: int = 512,
        fps: int = 25,
        sample_rate: int = 24000,
        key: str | None = None,
    ) -> None:
        """`url`: the Realtime Avatar runtime; `portrait`: an id from /api/v1/portraits (an upload or a bundled one);
        `sample_rate`: 16000, 24000 or 48000, the rate the room hears (the agent's TTS is resampled to it);
        `key`: the runtime's API key when it has keys."""
        start = StreamStart(
            type="start", portrait=portrait, size=size, fps=fps, sample_rate=sample_rate, output="frames"
        )
        self.video = RealtimeAvatarVideo(url, start, key)
        self.runner: AvatarRunner | None = None

    async def start(self, agent_session: AgentSession, room: rtc.Room) -> None:
        """Call before `agent_session.start(...)`: the session's audio output becomes the avatar's input."""
        start = self.video.start_message
        await self.video.connect()
        audio = QueueAudioOutput(sample_rate=start.sample_rate)
        agent_session.output.audio = audio
        options = AvatarOptions(
            video_width=start.size,
            video_height=start.size,
            video_fps=start.fps,
            audio_sample_rate=start.sample_rate,
            audio_channels=1,
        )
        self.runner = AvatarRunner(room, audio_recv=audio, video_gen=self.video, options=options)
        await self.runner.start()

    async def aclose(self) -> None:
        if self.runner is not None:
            await self.runner.aclose()
        await self.video.aclose()
