"""Realtime Avatar as a LiveKit Agents avatar: the agent's speech goes to the avatar stream, the face and the same
audio come back and are published to the room by livekit's own AvatarRunner."""

from realtime_avatar_livekit.avatar import RealtimeAvatar
from realtime_avatar_livekit.video_generator import RealtimeAvatarVideo

__all__ = ["RealtimeAvatar", "RealtimeAvatarVideo"]
