"""Realtime Avatar as a Pipecat frame processor: place it after your TTS."""

from realtime_avatar_pipecat.processor import RealtimeAvatarVideo

__all__ = ["RealtimeAvatarVideo"]
