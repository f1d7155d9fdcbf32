"""Files over HTTP, for a runtime that shares no volume with this service (gpu_service on another host)."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import FileResponse

from common.errors import TooLarge, Unprocessable, documented
from common.storage.files import atomic_target
from contracts.gpu_service import StoredInput
from gpu_service.assets import resolve_file
from gpu_service.dependencies import Services, get_services

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
    name: Annotated[str, Path(pattern=SAFE_NAME.pattern, description="Letters, digits, '_', '-', '.'")],
    request: Request,
    services: Annotated[Services, Depends(get_services)],
) -> StoredInput:
    """Store a request body (a voice reference or a portrait) under the output root; its path can then be used."""
    if not SAFE_NAME.match(name):
        raise Unprocessable("name may contain only letters, digits, '_', '-' and '.', and must not start with '.'")
    limit = services.settings.max_input_bytes
    target = services.settings.output_root / "inputs" / kind / name
    size = 0
    with atomic_target(target) as partial, partial.open("wb") as sink:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:  # checked while streaming: an oversized body is never held whole
                raise TooLarge(f"input is larger than {limit} bytes (GPU_MAX_INPUT_BYTES)")
            sink.write(chunk)
    return StoredInput(path=str(target), bytes=size)
