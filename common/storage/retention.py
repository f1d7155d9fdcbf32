"""Output folders: found unwritable at start, a service starts degraded and says so instead of crash-looping."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from common.errors import ServiceError

log = logging.getLogger("storage")


class StorageUnavailable(ServiceError):
    status_code = 507  # Insufficient Storage: the server cannot store what the request needs


def prepare_output_root(root: Path) -> str | None:
    """Create `root` if needed and check it can be written; the problem in words, or None."""
    try:
        root.mkdir(parents=True, exist_ok=True)
        probe = root / f".write-check-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        problem = f"cannot write to {root}: {error.strerror or error}"
        log.error("%s; the service starts degraded until the folder is writable", problem)
        return problem
    return None


def storage_error(error: OSError, what: str, setting: str) -> StorageUnavailable:
    """An OSError met while writing, as an answer naming the setting to check (never the folder's path)."""
    return StorageUnavailable(f"cannot write {what}: {error.strerror or error}; free space in {setting}")


class StorageProbe:
    """Can the folder be written, with room to spare? Checked when asked (by /health), at most every `max_age_s`:
    a disk that fills up after the start is noticed, without a write on every poll."""

    def __init__(self, root: Path, setting: str, min_free_bytes: int = 10_000_000, max_age_s: float = 5.0) -> None:
        self.root, self.setting = root, setting
        self.min_free_bytes, self.max_age_s = min_free_bytes, max_age_s
        self._last: tuple[float, str | None] | None = None

    def problem(self) -> str | None:
        now = time.monotonic()
        if self._last is None or now - self._last[0] > self.max_age_s:
            self._last = (now, self._check())
        return self._last[1]

    def _check(self) -> str | None:
        try:
            probe = self.root / f".write-check-{os.getpid()}"
            probe.write_bytes(b"ok")
            probe.unlink()
            free = shutil.disk_usage(self.root).free
        except OSError as error:
            return f"cannot write to the folder of {self.setting}: {error.strerror or error}"
        if free < self.min_free_bytes:
            return f"only {free // 1_000_000} MB free in the folder of {self.setting}"
        return None


@dataclass(frozen=True)
class DiskUsage:
    path: str
    used_bytes: int  # by files under `path`
    free_bytes: int  # left on its file system


def disk_usage(root: Path) -> DiskUsage:
    used = 0
    for folder, _, files in os.walk(root):
        for name in files:
            try:
                used += os.lstat(os.path.join(folder, name)).st_size
            except OSError:
                continue  # deleted meanwhile
    try:
        free = shutil.disk_usage(root).free
    except OSError:
        free = 0
    return DiskUsage(path=str(root), used_bytes=used, free_bytes=free)


class DiskUsageProbe:
    """disk_usage(root), walked at most once per `max_age_s`: /health is polled (and the runtime asks the
    gpu_service's /health before every request), so it must not walk a large folder each time."""

    def __init__(self, root: Path, max_age_s: float = 30.0) -> None:
        self.root = root
        self.max_age_s = max_age_s
        self._last: tuple[float, DiskUsage] | None = None

    def get(self) -> DiskUsage:
        now = time.monotonic()
        if self._last is None or now - self._last[0] > self.max_age_s:
            self._last = (now, disk_usage(self.root))
        return self._last[1]


def remove_older_than(folder: Path, max_age_s: float, pattern: str = "*") -> int:
    """Delete files matching `pattern` under `folder` not modified for `max_age_s`; how many were removed."""
    if not folder.is_dir():
        return 0
    cutoff = time.time() - max_age_s
    removed = 0
    for path in folder.rglob(pattern):
        try:
            if path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
        except OSError:
            continue  # in use or already gone: next round
    return removed


def start_cleanup(
    folders: list[Path], retention_hours: float, interval_s: float, extra: Callable[[float], int] | None = None
) -> asyncio.Task[None]:
    """A background task deleting files older than the retention (and running `extra(max_age_s)`) every interval.

    Retention 0 keeps everything. A failing round is logged and the next one tries again.
    """

    async def loop() -> None:
        if retention_hours <= 0:
            return
        max_age_s = retention_hours * 3600
        while True:
            try:
                removed = sum([await asyncio.to_thread(remove_older_than, folder, max_age_s) for folder in folders])
                if extra is not None:
                    removed += await asyncio.to_thread(extra, max_age_s)
                if removed:
                    log.info("retention: removed %d expired item(s) older than %.1f h", removed, retention_hours)
            except Exception:
                log.exception("retention round failed; retrying in %.0f s", interval_s)
            await asyncio.sleep(interval_s)

    return asyncio.get_running_loop().create_task(loop(), name="retention")
