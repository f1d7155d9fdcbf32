"""Error answers as one sentence a person can read (plus the structured list for programs, on validation)."""

from __future__ import annotations

import errno
import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from common.errors import ServiceError
from common.storage import storage_error as storage_unavailable

log = logging.getLogger("http")
WRITE_ERRNOS = frozenset({errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT})


def describe_validation_error(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error.get("loc", ()) if part != "body") or "request"
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        parts.append(f"{where}: {message}")
    return "; ".join(parts)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"loc": list(error.get("loc", ())), "msg": error.get("msg")} for error in exc.errors()]
        return JSONResponse(status_code=422, content={"detail": describe_validation_error(exc), "errors": errors})

    @app.exception_handler(OSError)
    async def storage_error(_: Request, exc: OSError) -> JSONResponse:
        # A full disk or a folder we may not write is the operator's to fix: say which folder, not "500".
        if exc.errno in WRITE_ERRNOS:
            answer = storage_unavailable(exc, "the result")
            return JSONResponse(status_code=answer.status_code, content={"detail": answer.detail})
        log.error("unexpected OS error", exc_info=exc)
        return JSONResponse(status_code=500, content={"detail": f"internal error: {type(exc).__name__}"})

    @app.exception_handler(ServiceError)
    async def service_error(_: Request, exc: ServiceError) -> JSONResponse:
        return JSONResponse(status_code=exc.status_code, content={"detail": exc.detail}, headers=exc.headers)
