"""Audio and video plumbing of the gpu_service: frame alignment, MP4 and fragmented-MP4 writing, a live voice's Opus."""
