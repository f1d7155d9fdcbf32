"""Which gpu_service this runtime talks to, and how files travel between them.

- remote: the gpu_service at RUNTIME_GPU_SERVICE_URL; files through the shared volume when one is configured
  (paths mapped between the two views), else over HTTP.
- local (the fallback): when the remote one is unreachable and the fallback is on, the same gpu_service runs as a
  child process of the runtime on a loopback port, writing under the runtime's data folder; it is stopped after
  RUNTIME_FALLBACK_IDLE_S unused, which gives all its memory (engines, native libraries: ~2 GB) back.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from common.errors import ServiceError, ServiceUnavailable
from common.process.launch import run_service
from common.storage.files import atomic_target
from runtime.config import Settings
from runtime.gpu_client import GpuClient, GpuUnreachable
from runtime.paths import PathMapper


class FileTransfer(Protocol):
    async def fetch(self, host_path: str, destination: Path) -> None: ...

    async def publish(self, source: Path, kind: str, name: str) -> str: ...


class SharedVolume:
    def __init__(self, mapper: PathMapper) -> None:
        self._mapper = mapper

    async def fetch(self, host_path: str, destination: Path) -> None:
        source = self._mapper.to_local(host_path)
        await asyncio.to_thread(_copy_atomically, source, destination)

    async def publish(self, source: Path, kind: str, name: str) -> str:
        target = self._mapper.local_root / "inputs" / kind / name
        if not target.is_file() or target.stat().st_size != source.stat().st_size:
            await asyncio.to_thread(_copy_atomically, source, target)
        return self._mapper.to_host(target)


class OverHttp:
    def __init__(self, client: GpuClient) -> None:
        self._client = client

    async def fetch(self, host_path: str, destination: Path) -> None:
        await self._client.download(host_path, destination)

    async def publish(self, source: Path, kind: str, name: str) -> str:
        return (await self._client.put_input(kind, name, source)).path


def _copy_atomically(source: Path, destination: Path) -> None:
    with atomic_target(destination) as partial:
        shutil.copyfile(source, partial)


REMOTE, LOCAL = "remote", "local"


@dataclass
class GpuBackend:
    name: str  # REMOTE, or LOCAL (the fallback)
    client: GpuClient
    files: FileTransfer

    @property
    def is_fallback(self) -> bool:
        return self.name == LOCAL


HEALTHY_FOR_S = 2.0
IDLE_CHECK_S = 5.0
log = logging.getLogger("runtime.gateway")


class GpuGateway:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        client = GpuClient(
            settings.gpu_service_url,
            settings.gpu_timeout_s,
            secret=settings.gpu_shared_secret,
            affinity_header=settings.gpu_affinity_header,
        )
        files: FileTransfer
        if settings.gpu_output_local_root is not None:
            files = SharedVolume(PathMapper(settings.gpu_output_host_root, settings.gpu_output_local_root))
        else:
            files = OverHttp(client)
        self.remote = GpuBackend(REMOTE, client, files)
        self._healthy_at = -HEALTHY_FOR_S
        self._local: LocalGpuService | None = None
        self._starting = asyncio.Lock()
        self._releasing: asyncio.Task[None] | None = None

    async def close(self) -> None:
        await self.remote.client.close()
        if self._releasing is not None:
            self._releasing.cancel()
        if self._local is not None:
            await self._local.stop()

    async def backend(self) -> GpuBackend:
        """The remote gpu_service if it answers, else the local fallback if allowed, else 503.

        A recent good answer is trusted for HEALTHY_FOR_S: asking before every request cost ~50 ms of each
        request's latency, and a service that died since fails the request's own connection, which falls back."""
        if time.monotonic() - self._healthy_at < HEALTHY_FOR_S or self._settings.gpu_on_demand:
            return self.remote  # on demand: the request itself starts the gpu_service; a probe would count twice
        try:
            await self.remote.client.health()
            self._healthy_at = time.monotonic()
            return self.remote
        except GpuUnreachable as exc:
            if not self._settings.fallback_enabled:
                raise ServiceUnavailable(
                    f"gpu_service is down: {exc}. Start it with scripts/run_gpu_service.sh (or point "
                    "RUNTIME_GPU_SERVICE_URL at it), or allow the local fallback with RUNTIME_FALLBACK=local."
                ) from exc
            return await self.local()

    async def wait_ready(self, timeout_s: float) -> bool:
        """Poll the remote gpu_service's /health until it answers (True) or `timeout_s` passes (False)."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                await self.remote.client.health()
                self._healthy_at = time.monotonic()
                return True
            except (GpuUnreachable, ServiceError):
                if time.monotonic() >= deadline:
                    return False
                await asyncio.sleep(min(1.0, max(0.0, deadline - time.monotonic())))

    async def local(self) -> GpuBackend:
        """The embedded engines in a gpu_service of this runtime's own, started on first use and stopped after
        RUNTIME_FALLBACK_IDLE_S unused."""
        async with self._starting:
            if self._local is None:
                self._local = await LocalGpuService.start(self._settings)
            self._local.used = time.monotonic()
            if self._releasing is None or self._releasing.done():
                self._releasing = asyncio.create_task(self._stop_when_idle())
            return self._local.backend

    async def _stop_when_idle(self) -> None:
        idle_s = self._settings.fallback_idle_s
        while (local := self._local) is not None:
            await asyncio.sleep(min(idle_s, IDLE_CHECK_S))
            if local.backend.client.in_flight:
                local.used = time.monotonic()
            elif time.monotonic() - local.used >= idle_s:
                async with self._starting:
                    self._local = None
                await local.stop()
                log.info("the local gpu_service (the fallback) stopped after %.0f s unused", idle_s)


class LocalGpuService:
    """The gpu_service as a child process on a loopback port: what a runtime whose gpu_service is unreachable
    answers with. A process rather than the app in this one, so that stopping it returns every byte it held."""

    def __init__(self, backend: GpuBackend, stack: contextlib.ExitStack) -> None:
        self.backend = backend
        self.used = time.monotonic()
        self._stack = stack

    @classmethod
    async def start(cls, settings: Settings) -> LocalGpuService:
        if importlib.util.find_spec("aiortc") is None or importlib.util.find_spec("onnxruntime") is None:
            raise ServiceUnavailable(
                "gpu_service is down and the embedded engines are not installed beside this runtime "
                "(pip install -e '.[gpu]'), so there is no fallback"
            )
        root = settings.in_process_gpu_root
        logs = root / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        stack = contextlib.ExitStack()
        # Nothing crosses a network: no shared secret, even if GPU_SHARED_SECRET is set here (one .env for both).
        child = run_service(
            "gpu_service.app:create_app", {"GPU_OUTPUT_ROOT": str(root)}, logs, unset=("GPU_SHARED_SECRET",)
        )
        try:
            service = await asyncio.to_thread(stack.enter_context, child)
        except Exception as exc:
            log.error("the local gpu_service (the fallback) did not start", exc_info=exc)
            raise ServiceUnavailable(
                f"gpu_service is down and the local fallback did not start ({str(exc).splitlines()[0]}); see the "
                "runtime's log"
            ) from exc
        log.warning("gpu_service unreachable: the embedded engines answer from a local gpu_service (%s)", service.url)
        client = GpuClient(service.url, settings.gpu_timeout_s)
        return cls(GpuBackend(LOCAL, client, SharedVolume(PathMapper(root, root))), stack)

    async def stop(self) -> None:
        await self.backend.client.close()
        await asyncio.to_thread(self._stack.close)
