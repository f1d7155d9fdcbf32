"""Finished videos, stored by id under the runtime's data folder."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

from common.errors import NotFound

VIDEO_ID = re.compile(r"^[0-9a-f]{32}$")


class VideoStore:
    def __init__(self, folder: Path) -> None:
        self._folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    @staticmethod
    def new_id() -> str:
        return uuid.uuid4().hex

    def path_for(self, video_id: str) -> Path:
        return self._folder / f"{video_id}.mp4"

    def partial_path(self, video_id: str) -> Path:
        """Where a video's bytes gather while it is made (never served)."""
        return self._folder / f"{video_id}.fmp4.part"

    def existing(self, video_id: str) -> Path:
        path = self.path_for(video_id) if VIDEO_ID.match(video_id) else None
        if path is None or not path.is_file():
            raise NotFound(f"no video '{video_id}'")
        return path
