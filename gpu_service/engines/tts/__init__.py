"""Text-to-speech engines: each yields speech segments, one per sentence or streamed chunk."""
