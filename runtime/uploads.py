"""Uploaded voices and portraits: checked, cleaned, stored under the runtime's data folder, then handed to
whichever gpu_service backend runs a request."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import av
import numpy as np
from fastapi import UploadFile
from pydantic import BaseModel

from common.errors import NotFound, Unprocessable
from common.http.uploads import receive_upload
from common.media.audio import AudioDecodeError, read_recording, write_wav
from common.media.bounded import run_bounded
from common.media.images import check_pixels
from common.media.voice_sample import REFERENCE_RATE, make_reference
from contracts.runtime import UploadedPortrait, UploadedVoice
from runtime.config import Settings
from runtime.gpu_gateway import GpuBackend

T = TypeVar("T")
Limit = TypeVar("Limit", int, float)
CHUNK = 1 << 20
UPLOAD_ID = re.compile(r"^(v|p)_[0-9a-f]{12}$")
IMAGE_SIGNATURES = {b"\x89PNG\r\n\x1a\n": ".png", b"\xff\xd8\xff": ".jpg"}


class UploadStore:
    def __init__(self, settings: Settings) -> None:
        folder = settings.uploads_dir
        self._voices = folder / "voices"
        self._portraits = folder / "portraits"
        self._incoming = folder / "incoming"
        for path in (self._voices, self._portraits, self._incoming):
            with contextlib.suppress(OSError):  # an unwritable data folder is reported by /health, not a crash
                path.mkdir(parents=True, exist_ok=True)
        self._max_voice = settings.max_voice_upload_bytes
        self._max_portrait = settings.max_portrait_upload_bytes
        self._max_voice_s = settings.max_voice_upload_seconds
        self._max_pixels = settings.max_portrait_pixels
        self._decode_timeout_s = settings.decode_timeout_s
        self._decode_memory_mb = settings.decode_memory_mb

    async def _decode(self, function: Callable[[Path, str, Limit], T], path: Path, name: str, limit: Limit) -> T:
        """An uploaded file read by `function` in a child process, within the decoding limits of time and memory."""
        return await asyncio.to_thread(
            run_bounded,
            function,
            path,
            name,
            limit,
            timeout_s=self._decode_timeout_s,
            what=name,
            memory_mb=self._decode_memory_mb,
        )

    async def add_voice(self, upload: UploadFile, owner: str) -> UploadedVoice:
        name = upload.filename or "upload"
        received = await receive_upload(
            upload, self._incoming, self._max_voice, "voice", "RUNTIME_MAX_VOICE_UPLOAD_BYTES"
        )
        try:
            reference, rate = await self._decode(clean_voice, received, name, self._max_voice_s)
        finally:
            received.unlink(missing_ok=True)
        voice_id = f"v_{uuid.uuid4().hex[:12]}"
        write_wav(self._voices / f"{voice_id}.wav", reference, rate)
        info = UploadedVoice(id=voice_id, source_name=name, duration_s=len(reference) / rate)
        _record(self._voices / f"{voice_id}.json", info, owner)
        return info

    async def add_portrait(self, upload: UploadFile, backend: GpuBackend, owner: str) -> UploadedPortrait:
        """Store a JPEG/PNG in which the gpu_service finds a face; nothing is kept otherwise."""
        name = upload.filename or "upload"
        received = await receive_upload(
            upload, self._incoming, self._max_portrait, "portrait", "RUNTIME_MAX_PORTRAIT_UPLOAD_BYTES"
        )
        portrait_id = f"p_{uuid.uuid4().hex[:12]}"
        try:
            suffix = _image_suffix(received, name)
            width, height = await self._decode(image_size, received, name, self._max_pixels)
            target = self._portraits / f"{portrait_id}{suffix}"
            os.replace(received, target)
            os.chmod(target, 0o644)
            published = await backend.files.publish(target, "portraits", target.name)
            try:
                check = await backend.client.check_portrait(published)
            except Unprocessable as exc:
                target.unlink(missing_ok=True)
                raise Unprocessable(exc.detail.replace(published, name)) from exc  # the user's name for the file
        finally:
            received.unlink(missing_ok=True)
        info = UploadedPortrait(
            id=portrait_id,
            source_name=name,
            width=width,
            height=height,
            faces=check.faces,
            notices=check.notices,
        )
        _record(self._portraits / f"{portrait_id}.json", info, owner)
        return info

    def voice_file(self, voice_id: str, owner: str) -> Path:
        return self._stored(self._voices, voice_id, "voice", owner)

    def portrait_file(self, portrait_id: str, owner: str) -> Path:
        return self._stored(self._portraits, portrait_id, "portrait", owner)

    @staticmethod
    def is_upload_id(name: str) -> bool:
        return bool(UPLOAD_ID.match(name))

    def _stored(self, folder: Path, upload_id: str, what: str, owner: str) -> Path:
        """An upload's file, for its owner only: to any other key it does not exist."""
        if UPLOAD_ID.match(upload_id) and _owner(folder / f"{upload_id}.json") == owner:
            for path in folder.glob(f"{upload_id}.*"):
                if path.suffix != ".json":
                    return path
        raise NotFound(f"no uploaded {what} '{upload_id}'")

    def list_voices(self, owner: str) -> list[UploadedVoice]:
        return [UploadedVoice.model_validate(record) for record in _records(self._voices, owner)]

    def list_portraits(self, owner: str) -> list[UploadedPortrait]:
        return [UploadedPortrait.model_validate(record) for record in _records(self._portraits, owner)]

    async def resolve_voice(self, name: str, backend: GpuBackend, owner: str) -> str:
        """What to send the gpu_service as `voice`: a bundled id as it is, an upload as a path it can read."""
        if not self.is_upload_id(name):
            return name
        path = self.voice_file(name, owner)
        return await backend.files.publish(path, "voices", path.name)

    async def resolve_portrait(self, name: str, backend: GpuBackend, owner: str) -> str:
        if not self.is_upload_id(name):
            return name
        path = self.portrait_file(name, owner)
        return await backend.files.publish(path, "portraits", path.name)


def _record(path: Path, info: BaseModel, owner: str) -> None:
    """An upload's description, with whose it is (the hashed key; never sent back)."""
    path.write_text(json.dumps({**info.model_dump(mode="json"), "owner": owner}))


def _owner(record: Path) -> str | None:
    try:
        return str(json.loads(record.read_text()).get("owner", ""))  # older records: the keyless single owner
    except FileNotFoundError:
        return None


def _records(folder: Path, owner: str) -> list[dict[str, object]]:
    records = [json.loads(path.read_text()) for path in sorted(folder.glob("*.json"))]
    return [record for record in records if record.get("owner", "") == owner]


def _image_suffix(path: Path, name: str) -> str:
    with path.open("rb") as handle:
        head = handle.read(8)
    for signature, suffix in IMAGE_SIGNATURES.items():
        if head.startswith(signature):
            return suffix
    raise Unprocessable(f"'{name}' is not a JPEG or PNG image")


def image_size(path: Path, name: str, max_pixels: int) -> tuple[int, int]:
    """Check the size in the header, then decode once (PyAV), so a corrupt file is refused here, not mid-render.

    The header comes first: a small file claiming 50000x50000 pixels is refused before it can take the memory.
    """
    check_pixels(path, name, max_pixels, "RUNTIME_MAX_PORTRAIT_PIXELS")
    try:
        with av.open(str(path)) as container:
            frame = next(container.decode(container.streams.video[0]))
            return int(frame.width), int(frame.height)
    except (av.FFmpegError, StopIteration, IndexError) as exc:
        raise Unprocessable(f"'{name}' is not a readable image") from exc


def clean_voice(path: Path, name: str, max_seconds: float) -> tuple[np.ndarray, int]:
    """Decode an uploaded recording (its length checked from the header first, when it has one) to a reference."""
    samples = read_recording(path, name, REFERENCE_RATE, max_seconds, "RUNTIME_MAX_VOICE_UPLOAD_SECONDS", "a voice")
    try:
        return make_reference(samples, REFERENCE_RATE), REFERENCE_RATE
    except AudioDecodeError as exc:  # too little speech in it
        raise Unprocessable(f"'{name}' cannot be used as a voice: {exc}") from exc
