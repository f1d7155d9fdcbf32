"""Which gpu_service this runtime talks to, and how files travel between them.

- remote: the gpu_service at RUNTIME_GPU_SERVICE_URL; files through the shared volume when one is configured
  (paths mapped between the two views), else over HTTP.
- in-process: when the remote one is unreachable and the fallback is on, the same gpu_service application runs
  inside this process (same HTTP contract through an ASGI transport), writing under the runtime's data folder.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from common.asgi_stream import StreamingASGITransport
from common.errors import ServiceError, ServiceUnavailable
from common.files import atomic_target
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


@dataclass
class GpuBackend:
    name: str  # "remote" or "in-process"
    client: GpuClient
    files: FileTransfer


HEALTHY_FOR_S = 2.0


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
        self.remote = GpuBackend("remote", client, files)
        self._healthy_at = -HEALTHY_FOR_S
        self._in_process: GpuBackend | None = None

    async def close(self) -> None:
        await self.remote.client.close()
        if self._in_process is not None:
            await self._in_process.client.close()

    async def backend(self) -> GpuBackend:
        """The remote gpu_service if it answers, else the in-process fallback if allowed, else 503.

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
                    "RUNTIME_GPU_SERVICE_URL at it), or allow the in-process fallback with RUNTIME_FALLBACK=local."
                ) from exc
            return self.in_process()

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

    def in_process(self) -> GpuBackend:
        if self._in_process is None:
            try:
                from gpu_service.app import create_app
                from gpu_service.config import Settings as GpuSettings
            except ImportError as exc:
                raise ServiceUnavailable(
                    "gpu_service is down and the embedded engines are not installed in this runtime "
                    f"({exc.name} missing; pip install -e '.[gpu]'), so there is no fallback"
                ) from exc
            root = self._settings.in_process_gpu_root
            # In this process nothing crosses a network: no shared secret, even if GPU_SHARED_SECRET is set here.
            app = create_app(GpuSettings(output_root=root, shared_secret=None), configure_logs=False)
            client = GpuClient("http://in-process", self._settings.gpu_timeout_s, StreamingASGITransport(app))
            self._in_process = GpuBackend("in-process", client, SharedVolume(PathMapper(root, root)))
        return self._in_process
