"""Receiving an uploaded file: to a private temporary file, refused as soon as it passes its limit."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from fastapi import UploadFile

from common.errors import TooLarge, Unprocessable

CHUNK = 1 << 20


async def receive_upload(upload: UploadFile, folder: Path, limit: int, what: str, setting: str) -> Path:
    """The upload's bytes in a new file under `folder` (the caller removes it); 413 past `limit`, 422 if empty."""
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".upload")
    size = 0
    try:
        with os.fdopen(fd, "wb") as sink:
            while chunk := await upload.read(CHUNK):
                size += len(chunk)
                if size > limit:
                    raise TooLarge(f"{what} upload is larger than the limit of {limit} bytes ({setting})")
                sink.write(chunk)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if size == 0:
        Path(tmp).unlink(missing_ok=True)
        raise Unprocessable(f"{what} upload '{upload.filename}' is empty")
    return Path(tmp)
