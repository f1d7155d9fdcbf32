from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import FileResponse

from common.errors import ServiceError, documented
from contracts.gpu_service import PortraitCheckRequest, PortraitCheckResponse, PortraitsResponse
from gpu_service.dependencies import Services, get_services

router = APIRouter(prefix="/api/v1")
CHECK_SIZE = 512


@router.get("/portraits", response_model=PortraitsResponse)
def list_portraits(services: Annotated[Services, Depends(get_services)]) -> PortraitsResponse:
    return PortraitsResponse(portraits=services.portraits.list())


@router.get(
    "/portraits/{portrait_id}/file",
    response_class=FileResponse,
    responses={200: {"content": {"image/png": {}, "image/jpeg": {}}}, **documented(404)},
)
def portrait_file(portrait_id: str, services: Annotated[Services, Depends(get_services)]) -> FileResponse:
    """A bundled portrait's image, as it is (for previews)."""
    path = services.portraits.bundled_file(portrait_id)
    return FileResponse(path, media_type="image/jpeg" if path.suffix.lower() in (".jpg", ".jpeg") else "image/png")


@router.post("/portraits/check", response_model=PortraitCheckResponse, responses=documented(400, 404, 413, 422))
def check_portrait(
    request: PortraitCheckRequest, services: Annotated[Services, Depends(get_services)]
) -> PortraitCheckResponse:
    """Find the face in a portrait (422 "no face found in ..." otherwise); the analysis is cached for rendering."""
    portrait = services.portraits.resolve(request.portrait, request.face)
    try:
        face = services.faces.analyze(portrait, CHECK_SIZE)
    except ServiceError:
        # A refused upload (no face, too large, not an image) is not kept among the inputs; a face number beyond
        # those found says nothing against the photo.
        if request.face == 0 and portrait.path.is_relative_to((services.settings.output_root / "inputs").resolve()):
            portrait.path.unlink(missing_ok=True)
        raise
    low, high = face.landmarks.min(axis=0), face.landmarks.max(axis=0)
    return PortraitCheckResponse(
        portrait=request.portrait,
        face_box=(float(low[0]), float(low[1]), float(high[0]), float(high[1])),
        size=CHECK_SIZE,
        faces=face.faces,
        face=face.face,
        face_px=face.face_px,
        notices=face.notices(),
    )
