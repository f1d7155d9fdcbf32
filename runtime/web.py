"""The web page: static files from RUNTIME_WEB_DIR, the page at / and its modules under /web/, same origin as the
API (no CORS needed). Open without a key: the page asks for one and sends it with its API calls."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

PAGE_PATH, FILES_FOLDER = "/", "/web"
# The page loads only its own files; media it plays come from the API or are made in the page (blob:).
PAGE_POLICY = (
    "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; "
    "style-src 'self'; script-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'"
)


def install_page(app: FastAPI, web_dir: Path) -> None:
    index = web_dir / "index.html"
    if not index.is_file():
        raise RuntimeError(f"RUNTIME_WEB_DIR={web_dir} holds no index.html (set it empty to serve the API only)")

    @app.get(PAGE_PATH, include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(index, headers={"Content-Security-Policy": PAGE_POLICY, "Cache-Control": "no-cache"})

    app.mount(FILES_FOLDER, StaticFiles(directory=web_dir), name="web")
