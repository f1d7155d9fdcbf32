"""Audio, video and image files: decoding with limits, encoding, MP4 boxes, voice samples."""
