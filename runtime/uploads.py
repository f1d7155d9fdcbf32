"""Uploaded voices and portraits: checked, cleaned, stored under the runtime's data folder, then handed to
whichever gpu_service backend runs a request."""

from __future__ import annotations

import json
import os
import re
import tempfile
import uuid
from pathlib import Path

import av
from fastapi import UploadFile

from common.audio import AudioDecodeError, load_audio, write_wav
from common.errors import NotFound, TooLarge, Unprocessable
from common.voice_sample import REFERENCE_RATE, make_reference
from runtime.gpu_gateway import GpuBackend
from runtime.schemas import UploadedPortrait, UploadedVoice

CHUNK = 1 << 20
UPLOAD_ID = re.compile(r"^(v|p)_[0-9a-f]{12}$")
IMAGE_SIGNATURES = {b"\x89PNG\r\n\x1a\n": ".png", b"\xff\xd8\xff": ".jpg"}


class UploadStore:
    def __init__(self, folder: Path, max_voice_bytes: int, max_portrait_bytes: int) -> None:
        self._voices = folder / "voices"
        self._portraits = folder / "portraits"
        self._incoming = folder / "incoming"
        for path in (self._voices, self._portraits, self._incoming):
            path.mkdir(parents=True, exist_ok=True)
        self._max_voice = max_voice_bytes
        self._max_portrait = max_portrait_bytes

    async def _receive(self, upload: UploadFile, limit: int, what: str) -> Path:
        """Copy the upload to a private temporary file, stopping as soon as it exceeds `limit`."""
        fd, tmp = tempfile.mkstemp(dir=self._incoming, suffix=".upload")
        size = 0
        try:
            with os.fdopen(fd, "wb") as sink:
                while chunk := await upload.read(CHUNK):
                    size += len(chunk)
                    if size > limit:
                        raise TooLarge(f"{what} upload is larger than the limit of {limit} bytes")
                    sink.write(chunk)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        if size == 0:
            Path(tmp).unlink(missing_ok=True)
            raise Unprocessable(f"{what} upload '{upload.filename}' is empty")
        return Path(tmp)

    async def add_voice(self, upload: UploadFile) -> UploadedVoice:
        name = upload.filename or "upload"
        received = await self._receive(upload, self._max_voice, "voice")
        try:
            samples, rate = load_audio(received, sample_rate=REFERENCE_RATE)
            reference = make_reference(samples, rate)
        except AudioDecodeError as exc:
            raise Unprocessable(f"'{name}' cannot be used as a voice: {str(exc).replace(received.name, name)}") from exc
        finally:
            received.unlink(missing_ok=True)
        voice_id = f"v_{uuid.uuid4().hex[:12]}"
        write_wav(self._voices / f"{voice_id}.wav", reference, rate)
        info = UploadedVoice(id=voice_id, source_name=name, duration_s=len(reference) / rate)
        (self._voices / f"{voice_id}.json").write_text(info.model_dump_json())
        return info

    async def add_portrait(self, upload: UploadFile, backend: GpuBackend) -> UploadedPortrait:
        """Store a JPEG/PNG in which the gpu_service finds a face; nothing is kept otherwise."""
        name = upload.filename or "upload"
        received = await self._receive(upload, self._max_portrait, "portrait")
        portrait_id = f"p_{uuid.uuid4().hex[:12]}"
        try:
            suffix = _image_suffix(received, name)
            width, height = _image_size(received, name)
            target = self._portraits / f"{portrait_id}{suffix}"
            os.replace(received, target)
            os.chmod(target, 0o644)
            try:
                await backend.client.check_portrait(await backend.files.publish(target, "portraits", target.name))
            except Unprocessable as exc:
                target.unlink(missing_ok=True)
                reason = f"no face found in {name}" if "no face" in exc.detail else f"'{name}': {exc.detail}"
                raise Unprocessable(reason) from exc
        finally:
            received.unlink(missing_ok=True)
        info = UploadedPortrait(id=portrait_id, source_name=name, width=width, height=height)
        (self._portraits / f"{portrait_id}.json").write_text(info.model_dump_json())
        return info

    def voice_file(self, voice_id: str) -> Path:
        return self._stored(self._voices, voice_id, "voice")

    def portrait_file(self, portrait_id: str) -> Path:
        return self._stored(self._portraits, portrait_id, "portrait")

    @staticmethod
    def is_upload_id(name: str) -> bool:
        return bool(UPLOAD_ID.match(name))

    def _stored(self, folder: Path, upload_id: str, what: str) -> Path:
        if UPLOAD_ID.match(upload_id):
            for path in folder.glob(f"{upload_id}.*"):
                if path.suffix != ".json":
                    return path
        raise NotFound(f"no uploaded {what} '{upload_id}'")

    def list_voices(self) -> list[UploadedVoice]:
        return [UploadedVoice.model_validate(json.loads(p.read_text())) for p in sorted(self._voices.glob("*.json"))]

    def list_portraits(self) -> list[UploadedPortrait]:
        return [
            UploadedPortrait.model_validate(json.loads(p.read_text())) for p in sorted(self._portraits.glob("*.json"))
        ]

    async def resolve_voice(self, name: str, backend: GpuBackend) -> str:
        """What to send the gpu_service as `voice`: a bundled id as it is, an upload as a path it can read."""
        if not self.is_upload_id(name):
            return name
        path = self.voice_file(name)
        return await backend.files.publish(path, "voices", path.name)

    async def resolve_portrait(self, name: str, backend: GpuBackend) -> str:
        if not self.is_upload_id(name):
            return name
        path = self.portrait_file(name)
        return await backend.files.publish(path, "portraits", path.name)


def _image_suffix(path: Path, name: str) -> str:
    with path.open("rb") as handle:
        head = handle.read(8)
    for signature, suffix in IMAGE_SIGNATURES.items():
        if head.startswith(signature):
            return suffix
    raise Unprocessable(f"'{name}' is not a JPEG or PNG image")


def _image_size(path: Path, name: str) -> tuple[int, int]:
    """Decode the image once (PyAV), so a truncated or corrupt file is refused here, not mid-render."""
    try:
        with av.open(str(path)) as container:
            frame = next(container.decode(video=0))
            return int(frame.width), int(frame.height)
    except (av.FFmpegError, StopIteration) as exc:
        raise Unprocessable(f"'{name}' is not a readable image") from exc
