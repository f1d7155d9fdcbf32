"""Start a service with uvicorn on a free loopback port, as a subprocess, and stop it afterwards.

Used by the tests, the demo and the benchmarks, so all three exercise the services exactly as deployed.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[2]
# The same server whatever else is installed: uvicorn[standard] (Ray Serve pulls it in) would switch to httptools,
# which refuses unknown methods before the app sees them, and to uvloop.
HTTP, LOOP = "h11", "asyncio"
# The avatar stream's messages are video (raw frames or H.264) that deflate cannot shrink; compressing each one costs
# more CPU than rendering it (at 512 px, two raw streams could not keep 25 fps with it, six do without).
WS_DEFLATE = False


def serve(app: Any, host: str, port: int) -> None:
    """Run `app` in this process as `python -m gpu_service|runtime` do: the same server settings as run_service;
    log_config=None keeps the logging the app set up (JSON lines) instead of uvicorn's plain text."""
    import uvicorn

    uvicorn.run(app, host=host, port=port, log_config=None, http=HTTP, loop=LOOP, ws_per_message_deflate=WS_DEFLATE)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RunningService:
    def __init__(self, process: subprocess.Popen[bytes], url: str, log: Path) -> None:
        self.process = process
        self.url = url
        self.log = log

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@contextmanager
def run_service(
    app_factory: str,
    env: dict[str, str],
    log_dir: Path,
    timeout_s: float = 120,
    port: int | None = None,
    wrap: Callable[[list[str]], list[str]] | None = None,
    unset: tuple[str, ...] = (),
) -> Iterator[RunningService]:
    """Run `uvicorn --factory app_factory` with `env` added (and the variables named in `unset` left out); yield
    once GET /health answers.

    `wrap` may put the command inside another (e.g. a private mount namespace, as a container would have).
    """
    port = port or free_port()
    log = log_dir / f"{app_factory.split(':')[0].replace('.', '_')}-{port}.log"
    host = "127.0.0.1"
    command = [sys.executable, "-m", "uvicorn", "--factory", app_factory, "--host", host, "--port", str(port)]
    command += ["--http", HTTP, "--loop", LOOP, "--ws-per-message-deflate", str(WS_DEFLATE)]
    if wrap is not None:
        command = wrap(command)
    with log.open("ab") as sink:
        inherited = {name: value for name, value in os.environ.items() if name not in unset}
        process = subprocess.Popen(command, env={**inherited, **env}, cwd=REPO, stdout=sink, stderr=subprocess.STDOUT)
    service = RunningService(process, f"http://{host}:{port}", log)
    try:
        wait_until_healthy(service.process, service.url, service.log, timeout_s)
        yield service
    finally:
        service.stop()


def wait_until_healthy(process: subprocess.Popen[bytes], url: str, log: Path, timeout_s: float) -> None:
    """Until GET {url}/health answers 200; the log's text in the error if the process ends first or time runs out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"service exited with {process.returncode}:\n{log.read_text(errors='replace')}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"service at {url} not healthy after {timeout_s} s:\n{log.read_text(errors='replace')}")
