"""Files over HTTP, for a runtime that shares no volume with this service (gpu_service on another host)."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse

from common.errors import TooLarge, Unprocessable, documented
from gpu_service.assets import resolve_file
from gpu_service.dependencies import Services, get_services
from gpu_service.schemas import StoredInput

router = APIRouter(prefix="/api/v1")
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


@router.get("/files", response_class=FileResponse, responses=documented(400, 404))
def download(
    path: Annotated[str, Query(description="A path this service returned (under its output root).")],
    services: Annotated[Services, Depends(get_services)],
) -> FileResponse:
    return FileResponse(resolve_file(path, [services.settings.output_root], "file"))


@router.put("/inputs/{kind}/{name}", response_model=StoredInput, responses=documented(413, 422))
async def upload_input(
    kind: Literal["voices", "portraits"],
    name: str,
    request: Request,
    services: Annotated[Services, Depends(get_services)],
) -> StoredInput:
    """Store a request body (a voice reference or a portrait) under the output root; its path can then be used."""
    if not SAFE_NAME.match(name):
        raise Unprocessable("name may contain only letters, digits, '_', '-' and '.', and must not start with '.'")
    limit = services.settings.max_input_bytes
    folder = services.settings.output_root / "inputs" / kind
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".", suffix=".part")
    size = 0
    try:
        with os.fdopen(fd, "wb") as sink:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:  # checked while streaming: an oversized body is never held whole
                    raise TooLarge(f"input is larger than {limit} bytes (GPU_MAX_INPUT_BYTES)")
                sink.write(chunk)
        os.chmod(tmp, 0o644)
        target = folder / name
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return StoredInput(path=str(target), bytes=size)
