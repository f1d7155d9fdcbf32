"""Errors a request can run into, each with the HTTP status that says whose fault it is."""

from __future__ import annotations


class ServiceError(Exception):
    status_code = 500

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class BadPath(ServiceError):
    status_code = 400


class NotFound(ServiceError):
    status_code = 404


class TooLarge(ServiceError):
    status_code = 413


class Unprocessable(ServiceError):
    status_code = 422


class EngineUnavailable(ServiceError):
    status_code = 503


def documented(*codes: int) -> dict[int | str, dict[str, object]]:
    """OpenAPI `responses` for these error codes, all with the {"detail": "..."} body."""
    from gpu_service.schemas import ErrorResponse

    return {code: {"model": ErrorResponse} for code in codes}
