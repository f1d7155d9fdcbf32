"""A Pipecat bot wearing a Realtime Avatar face: the avatar goes right after the TTS.

    pip install -e ../.. -e . "pipecat-ai[daily,deepgram,openai,cartesia,silero]==1.14.0"   # from integrations/pipecat
    python examples/bot.py          # with a Realtime Avatar runtime on http://127.0.0.1:8000

Transport and services here are Daily, Deepgram, OpenAI and Cartesia; any others work in their place.
"""

from __future__ import annotations

import asyncio
import os

from pipecat.audio.vad.silero import SileroVADAnalyzer
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineWorker
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import LLMContextAggregatorPair
from pipecat.services.cartesia.tts import CartesiaTTSService
from pipecat.services.deepgram.stt import DeepgramSTTService
from pipecat.services.openai.llm import OpenAILLMService
from pipecat.transports.daily.transport import DailyParams, DailyTransport
from pipecat.workers.runner import WorkerRunner

from realtime_avatar_pipecat import RealtimeAvatarVideo


async def main() -> None:
    transport = DailyTransport(
        os.environ["DAILY_ROOM_URL"],
        None,
        "Avatar",
        DailyParams(
            audio_in_enabled=True,
            audio_out_enabled=True,
            video_out_enabled=True,
            video_out_is_live=True,
            video_out_width=512,
            video_out_height=512,
            vad_analyzer=SileroVADAnalyzer(),
        ),
    )
    context = LLMContext([{"role": "system", "content": "You are a friendly assistant. Keep answers short."}])
    aggregators = LLMContextAggregatorPair(context)
    avatar = RealtimeAvatarVideo(
        os.environ.get("REALTIME_AVATAR_URL", "http://127.0.0.1:8000"),
        portrait=os.environ.get("REALTIME_AVATAR_PORTRAIT"),
        key=os.environ.get("REALTIME_AVATAR_API_KEY"),
    )
    pipeline = Pipeline(
        [
            transport.input(),
            DeepgramSTTService(api_key=os.environ["DEEPGRAM_API_KEY"]),
            aggregators.user(),
            OpenAILLMService(api_key=os.environ["OPENAI_API_KEY"]),
            CartesiaTTSService(api_key=os.environ["CARTESIA_API_KEY"], voice_id=os.environ["CARTESIA_VOICE_ID"]),
            avatar,  # after the TTS: its audio in, the face and the same audio out
            transport.output(),
            aggregators.assistant(),
        ]
    )
    runner = WorkerRunner()
    await runner.add_workers(PipelineWorker(pipeline))
    await runner.run()


if __name__ == "__main__":
    asyncio.run(main())
