"""Speech in: Whisper (faster-whisper) for whole recordings, and a voice-activity detector for live audio."""
