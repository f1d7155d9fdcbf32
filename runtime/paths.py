"""Map paths between the gpu_service's view of its output folder and this runtime's view of the same folder.

In Docker the runtime mounts the gpu_service's host folder elsewhere (e.g. /tmp/gpu-service-output on the host is
/data/gpu-output in the container). Every mapped path must resolve inside its root.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from common.errors import Misconfigured
from common.storage.paths import PathOutsideRoots, resolve_within


class PathMapper:
    def __init__(self, host_root: Path, local_root: Path) -> None:
        self.host_root = PurePosixPath(host_root)
        self.local_root = local_root

    def to_local(self, host_path: str) -> Path:
        """A path the gpu_service returned, as this runtime can open it."""
        given = PurePosixPath(host_path)
        if not given.is_relative_to(self.host_root) or ".." in given.parts:
            raise Misconfigured(
                "gpu_service returned a path outside its output root as this runtime knows it "
                "(RUNTIME_GPU_OUTPUT_HOST_ROOT must equal the gpu_service's GPU_OUTPUT_ROOT)"
            )
        try:
            return resolve_within(str(given.relative_to(self.host_root)), [self.local_root])
        except PathOutsideRoots as exc:
            raise Misconfigured(
                "gpu_service returned a path that leaves the shared folder (RUNTIME_GPU_OUTPUT_LOCAL_ROOT)"
            ) from exc

    def to_host(self, local_path: Path) -> str:
        """A file under the local root, as the gpu_service will see it."""
        relative = local_path.resolve().relative_to(self.local_root.resolve())
        return str(self.host_root / PurePosixPath(relative.as_posix()))
