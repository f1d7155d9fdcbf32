"""The web page: static files from RUNTIME_WEB_DIR, the page at / and its modules under /web/, same origin as the
API (no CORS needed). Open without a key: the page asks for one and sends it with its API calls."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PAGE_PATH, FILES_FOLDER = "/", "/web"
# The page loads only its own files; media it plays come from the API or are made in the page (blob:). No other
# site may frame it (clickjacking: the page holds the user's key).
PAGE_POLICY = (
    "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; "
    "style-src 'self'; script-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)


class SecurityHeaders:
    """Every answer says its content type is to be believed (no sniffing a JSON error or an upload into a page);
    every HTML answer, wherever it is served from (/ or /web/index.html), carries the page's policy."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["X-Content-Type-Options"] = "nosniff"
                if headers.get("content-type", "").startswith("text/html"):
                    headers["Content-Security-Policy"] = PAGE_POLICY
                    headers["X-Frame-Options"] = "DENY"  # frame-ancestors for browsers that predate it
            await send(message)

        await self.app(scope, receive, send_with_headers)


def install_page(app: FastAPI, web_dir: Path) -> None:
    index = web_dir / "index.html"
    if not index.is_file():
        raise RuntimeError(f"RUNTIME_WEB_DIR={web_dir} holds no index.html (set it empty to serve the API only)")

    @app.get(PAGE_PATH, include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(index, headers={"Cache-Control": "no-cache"})

    app.mount(FILES_FOLDER, StaticFiles(directory=web_dir), name="web")
