"""Finished videos, stored by id under the runtime's data folder."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

from common.errors import NotFound

VIDEO_ID = re.compile(r"^[0-9a-f]{32}$")


def video_url(video_id: str) -> str:
    """Where a stored video is served (relative; answers make it absolute)."""
    return f"/api/v1/videos/{video_id}"


def captions_url(video_id: str) -> str:
    return f"{video_url(video_id)}/captions.vtt"


def video_events_url(video_id: str) -> str:
    """Where a streamed video's sentences arrive as server-sent events while it is made."""
    return f"{video_url(video_id)}/events"


class VideoStore:
    def __init__(self, folder: Path) -> None:
        self._folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    @staticmethod
    def new_id() -> str:
        return uuid.uuid4().hex

    def path_for(self, video_id: str) -> Path:
        return self._folder / f"{video_id}.mp4"

    def captions_path(self, video_id: str) -> Path:
        return self._folder / f"{video_id}.vtt"

    def existing_captions(self, video_id: str, owner: str) -> Path:
        self.existing(video_id, owner)  # no such video (or not yours): say that first
        path = self.captions_path(video_id)
        if not path.is_file():
            raise NotFound(f"video '{video_id}' has no captions (it was made before videos had them)")
        return path

    def partial_path(self, video_id: str) -> Path:
        """Where a video's bytes gather while it is made (never served)."""
        return self._folder / f"{video_id}.fmp4.part"

    def claim(self, video_id: str, owner: str) -> None:
        """Record whose video this is (before it appears): other keys are told it does not exist."""
        self._owner_path(video_id).write_text(owner)

    def existing(self, video_id: str, owner: str) -> Path:
        path = self.path_for(video_id) if VIDEO_ID.match(video_id) else None
        if path is None or not path.is_file() or self._owner(video_id) != owner:
            raise NotFound(f"no video '{video_id}'")
        return path

    def _owner_path(self, video_id: str) -> Path:
        return self._folder / f"{video_id}.owner"

    def _owner(self, video_id: str) -> str:
        try:
            return self._owner_path(video_id).read_text()
        except FileNotFoundError:
            return ""  # stored before videos had owners: the single owner of an installation without keys
