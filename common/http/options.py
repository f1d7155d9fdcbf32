"""OPTIONS answered with every method the path has. Starlette's own answer (405) names only the first route that
matches the path, so /api/v1/jobs (GET and POST, two routes) claimed `Allow: POST`. The methods come from the
app's OpenAPI document, which lists every documented operation per path. CORS preflights (with
Access-Control-Request-Method) are left to the CORS middleware."""

from __future__ import annotations

import re

from fastapi import FastAPI
from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

_PARAMETER = re.compile(r"\\\{[^/]+?\\\}")


class AllowedMethods:
    def __init__(self, app: ASGIApp, api: FastAPI) -> None:
        self.app, self.api = app, api
        self._paths: list[tuple[re.Pattern[str], set[str]]] | None = None

    def _methods(self, path: str) -> set[str]:
        if self._paths is None:
            self._paths = [
                (re.compile(_PARAMETER.sub("[^/]+", re.escape(template)) + "$"), {m.upper() for m in operations})
                for template, operations in self.api.openapi().get("paths", {}).items()
            ]
        return set().union(*(methods for pattern, methods in self._paths if pattern.match(path)))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "OPTIONS"
            or "access-control-request-method" in Headers(scope=scope)  # a CORS preflight
        ):
            await self.app(scope, receive, send)
            return
        methods = self._methods(scope["path"])
        if not methods:
            await self.app(scope, receive, send)  # no such path: the usual answer
            return
        allow = ", ".join(sorted(methods | {"OPTIONS"}))
        await Response(status_code=204, headers={"Allow": allow})(scope, receive, send)
