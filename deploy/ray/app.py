"""Realtime Avatar on Ray Serve: the gpu_service and the runtime, each the same FastAPI application it is standalone,
as two Serve applications behind Serve's HTTP proxy (deploy/ray/serve.yaml says how they scale).

The runtime calls the gpu_service over HTTP, through the proxy on its own node (RUNTIME_GPU_SERVICE_URL), rather
than through a deployment handle: its client (streamed fragmented MP4, uploads, health, retries, errors) works
unchanged, and the proxy holds a request while the gpu_service scales up from zero. The apps are built in each
replica (builder functions), from the environment the config gives them.
"""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import FastAPI
from ray import serve


def gpu_service_app() -> FastAPI:
    """`{replica}` in GPU_OUTPUT_ROOT becomes this replica's id: a folder of its own, as on a machine of its own
    (how the tests show that nothing relies on replicas sharing a disk)."""
    from gpu_service.app import create_app
    from gpu_service.config import Settings

    root = os.environ.get("GPU_OUTPUT_ROOT", "")
    if "{replica}" in root:
        replica = serve.get_replica_context().replica_id.unique_id
        return create_app(Settings(output_root=Path(root.replace("{replica}", replica))))
    return create_app()


def runtime_app() -> FastAPI:
    from runtime.app import create_app

    return create_app()


class GpuService:
    """Renders: one replica per GPU (ray_actor_options num_gpus: 1 there), none while nothing is asked of it."""


class Runtime:
    """The public API. One replica: its jobs, uploads, videos and conversations live in its data folder (SQLite
    and files), which a second replica would not see."""


gpu_service = serve.deployment(name="GpuService")(serve.ingress(gpu_service_app)(GpuService)).bind()
runtime = serve.deployment(name="Runtime")(serve.ingress(runtime_app)(Runtime)).bind()
