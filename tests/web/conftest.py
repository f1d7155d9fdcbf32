"""The web page in a real browser: Debian's Chromium driven by Playwright, against the real services on loopback.

Chromium comes from the system (`make test` installs the `chromium` package where apt can); Playwright's own
browser download cannot work offline. Every page's console errors and uncaught exceptions are collected, and a
test fails on any it did not expect. Screenshots of each step go to test-artifacts/web/.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright, sync_playwright

from common.process.launch import RunningService, free_port, run_service

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "web"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# Flags for a closed network: nothing phones home (each refused connection would otherwise be retried).
QUIET = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _chromium() -> str:
    if Path(CHROMIUM).is_file():
        return CHROMIUM
    reason = f"no Chromium at {CHROMIUM}: `make test` installs Debian's chromium package (or set CHROMIUM)"
    if os.environ.get("CI") == "true":
        pytest.fail(reason)  # on CI the browser tests are not optional
    pytest.skip(reason)


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def speech_wav() -> Path:
    """A spoken English sentence (a bundled voice's recording) for the fake microphone."""
    return REPO / "assets" / "voices" / "librivox_en_reader.wav"


@pytest.fixture(scope="session")
def browser(playwright: Playwright, speech_wav: Path) -> Iterator[Browser]:
    chromium = playwright.chromium.launch(
        executable_path=_chromium(),
        args=[
            *QUIET,
            "--disable-features=WebRtcHideLocalIpsWithMdns",  # host candidates as addresses: connects at once
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={speech_wav}",
        ],
    )
    yield chromium
    chromium.close()


@dataclass
class PageLog:
    errors: list[str] = field(default_factory=list)

    def console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(f"console: {message.text} ({message.location.get('url', '')})")

    def unexpected(self, allowed: tuple[str, ...] = ()) -> list[str]:
        return [error for error in self.errors if not any(text in error for text in allowed)]


@dataclass
class OpenPage:
    page: Page
    log: PageLog
    name: str
    step: int = 0

    def shot(self, what: str) -> Path:
        self.step += 1
        path = ARTIFACTS / f"{self.name}-{self.step:02d}-{what}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


def open_page(browser: Browser, url: str, name: str, viewport: tuple[int, int] = (1200, 900)) -> OpenPage:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]}, accept_downloads=True)
    context.grant_permissions(["microphone", "clipboard-read", "clipboard-write"], origin=url)
    page = context.new_page()
    log = PageLog()
    page.on("console", log.console)
    page.on("pageerror", lambda error: log.errors.append(f"uncaught: {error}"))
    page.set_default_timeout(120_000)
    page.goto(url + "/")
    return OpenPage(page, log, name)


@dataclass
class Site:
    gpu: RunningService | None
    runtime: RunningService


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """Both services, files between them over HTTP (no shared volume)."""
    base = tmp_path_factory.mktemp("web")
    with run_service("gpu_service.app:create_app", {"GPU_OUTPUT_ROOT": str(base / "gpu")}, base) as gpu:
        env = {
            "RUNTIME_GPU_SERVICE_URL": gpu.url,
            "RUNTIME_DATA_DIR": str(base / "runtime"),
            "RUNTIME_RATE_LIMIT_PER_MINUTE": "0",
        }
        with run_service("runtime.app:create_app", env, base) as runtime:
            yield Site(gpu, runtime)


@contextmanager
def runtime_alone(base: Path, **extra: str) -> Iterator[RunningService]:
    """A runtime whose gpu_service is not there (a port nothing listens on): the local fallback serves."""
    env = {
        "RUNTIME_GPU_SERVICE_URL": f"http://127.0.0.1:{free_port()}",
        "RUNTIME_DATA_DIR": str(base / "runtime"),
        "RUNTIME_RATE_LIMIT_PER_MINUTE": "0",
        **extra,
    }
    with run_service("runtime.app:create_app", env, base) as runtime:
        yield runtime


def clean_artifacts() -> None:
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
