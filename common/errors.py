"""Errors a request can run into, each with the HTTP status that says whose fault it is; shared by both services."""

from __future__ import annotations

from pydantic import BaseModel


class ErrorResponse(BaseModel):
    detail: str


class ServiceError(Exception):
    status_code = 500

    def __init__(self, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = headers


class BadPath(ServiceError):
    status_code = 400


class NotFound(ServiceError):
    status_code = 404


class Conflict(ServiceError):
    status_code = 409


class TooLarge(ServiceError):
    status_code = 413


class Unprocessable(ServiceError):
    status_code = 422


class TooManyRequests(ServiceError):
    status_code = 429


class BadGateway(ServiceError):
    status_code = 502


class Misconfigured(BadGateway):
    """The services are set up wrong (credentials refused, paths that do not map): retrying cannot help."""


class EngineUnavailable(ServiceError):
    status_code = 503


ServiceUnavailable = EngineUnavailable


def documented(*codes: int) -> dict[int | str, dict[str, object]]:
    """OpenAPI `responses` for these error codes, all with the {"detail": "..."} body."""
    return {code: {"model": ErrorResponse} for code in codes}
