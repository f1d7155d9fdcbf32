"""Error answers as one sentence a person can read (plus the structured list for programs, on validation)."""

from __future__ import annotations

import errno
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from common.errors import ServiceError
from common.storage.retention import storage_error as storage_unavailable

log = logging.getLogger("http")
WRITE_ERRNOS = frozenset({errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT})


class ValidationProblem(BaseModel):
    loc: list[str | int]
    msg: str


class ValidationErrorBody(BaseModel):
    """What a 422 for a malformed request looks like: one sentence, then the details for programs."""

    detail: str
    errors: list[ValidationProblem]


def describe_validation_error(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error.get("loc", ()) if part != "body") or "request"
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        parts.append(f"{where}: {message}")
    return "; ".join(parts)


def _document_our_422(app: FastAPI) -> None:
    """FastAPI documents 422 as its own shape (detail: a list); ours is `ValidationErrorBody`. Say so."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            if "HTTPValidationError" in components:
                body = ValidationErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
                components.update(body.pop("$defs", {}))
                components["HTTPValidationError"] = body
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def install_error_handlers(app: FastAPI, storage_setting: str) -> None:
    """`storage_setting` names the folder setting a write error points the operator to."""
    _document_our_422(app)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"loc": list(error.get("loc", ())), "msg": error.get("msg")} for error in exc.errors()]
        return JSONResponse(status_code=422, content={"detail": describe_validation_error(exc), "errors": errors})

    @app.exception_handler(OSError)
    async def storage_error(_: Request, exc: OSError) -> JSONResponse:
        # A full disk or a folder we may not write is the operator's to fix: say which folder, not "500".
        if exc.errno in WRITE_ERRNOS:
            answer = storage_unavailable(exc, "the result", storage_setting)
            return JSONResponse(status_code=answer.status_code, content={"detail": answer.detail})
        log.error("unexpected OS error", exc_info=exc)
        return JSONResponse(status_code=500, content={"detail": f"internal error: {type(exc).__name__}"})

    @app.exception_handler(ServiceError)
    async def service_error(_: Request, exc: ServiceError) -> JSONResponse:
        return JSONResponse(status_code=exc.status_code, content={"detail": exc.detail}, headers=exc.headers)
