"""A local Ray cluster on loopback (2 CPUs, no dashboard, no usage statistics) running deploy/ray/serve.yaml as
`serve run` runs it, with autoscaling made quick: the defaults take ~12 s to start a replica's worth of decisions
and ~36 s to return to zero. Used by the Ray Serve tests and benchmark."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from common.process.launch import REPO, free_port

CONFIG = REPO / "deploy" / "ray" / "serve.yaml"
BIN = Path(sys.executable).parent
QUICK_AUTOSCALING = {
    "metrics_interval_s": 0.5,
    "look_back_period_s": 2,
    "upscale_delay_s": 0,
    "downscale_delay_s": 2,
    "downscale_to_zero_delay_s": 4,
}


@dataclass
class ServeCluster:
    url: str  # the runtime, through Serve's proxy
    address: str  # the cluster's GCS, for a driver
    log: Path

    def gpu_replicas(self) -> int:
        """Running gpu_service replicas, as Serve's controller counts them."""
        from ray import serve
        from ray.serve._private.common import ReplicaState

        deployment = serve.status().applications["gpu_service"].deployments["GpuService"]
        return deployment.replica_states.get(ReplicaState.RUNNING, 0)

    def wait_for_replicas(self, count: int, timeout_s: float) -> float:
        """Seconds until exactly `count` gpu_service replicas run."""
        start = time.monotonic()
        while self.gpu_replicas() != count:
            assert time.monotonic() - start < timeout_s, f"not {count} replicas after {timeout_s} s ({self.log})"
            time.sleep(0.25)
        return time.monotonic() - start


def quick_config(scratch: Path, http_port: int, max_replicas: int, autoscaling: dict[str, float]) -> dict[str, Any]:
    """deploy/ray/serve.yaml, with this run's folders and port, `autoscaling` changed, and CPU shares that fit 2
    CPUs."""
    config: dict[str, Any] = yaml.safe_load(CONFIG.read_text())
    config["http_options"]["port"] = http_port
    apps = {app["name"]: app for app in config["applications"]}
    gpu, runtime = apps["gpu_service"], apps["runtime"]
    # Each replica its own output folder: nothing may rely on replicas sharing a disk, as on separate machines.
    gpu_output = str(scratch / "gpu-output-{replica}")
    gpu["runtime_env"]["env_vars"] |= {
        "GPU_OUTPUT_ROOT": gpu_output,
        "GPU_LLM__PRELOAD": "false",
        "GPU_TTS_ENGINE": os.environ.get("GPU_TTS_ENGINE", "kokoro"),  # the tests' engine (tests/conftest.py)
    }
    runtime["runtime_env"]["env_vars"] |= {
        "RUNTIME_GPU_SERVICE_URL": f"http://127.0.0.1:{http_port}/gpu",
        "RUNTIME_DATA_DIR": str(scratch / "runtime-data"),
        "RUNTIME_RATE_LIMIT_PER_MINUTE": "0",
    }
    gpu_deployment = gpu["deployments"][0]
    gpu_deployment["autoscaling_config"] |= autoscaling | {"max_replicas": max_replicas}
    gpu_deployment["ray_actor_options"]["num_cpus"] = 0.5  # two replicas and the runtime on a 2-CPU cluster
    runtime["deployments"][0]["ray_actor_options"]["num_cpus"] = 0.25
    return config


@contextlib.contextmanager
def serve_cluster(
    scratch: Path,
    max_replicas: int = 2,
    autoscaling: dict[str, float] | None = None,
    start_timeout_s: float = 180,
) -> Iterator[ServeCluster]:
    """`autoscaling`: changes to the file's autoscaling_config (QUICK_AUTOSCALING if None). Ends with `ray stop`,
    which stops every Ray process of this user on the machine."""
    import ray

    gcs_port, http_port = free_port(), free_port()
    address = f"127.0.0.1:{gcs_port}"
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_ADDRESS": address}
    temp = Path(tempfile.mkdtemp(prefix="ray-", dir="/tmp"))  # Ray's socket paths must stay short
    config_path = scratch / "serve.yaml"
    config_path.write_text(
        yaml.safe_dump(
            quick_config(scratch, http_port, max_replicas, QUICK_AUTOSCALING if autoscaling is None else autoscaling)
        )
    )
    log = scratch / "serve-run.log"
    start = [str(BIN / "ray"), "start", "--head", "--num-cpus=2", "--include-dashboard=false"]
    start += ["--node-ip-address=127.0.0.1", f"--port={gcs_port}", "--disable-usage-stats", f"--temp-dir={temp}"]
    subprocess.run(start, env=env, cwd=REPO, check=True, capture_output=True, timeout=120)
    serve = None
    try:
        with log.open("ab") as sink:
            command = [str(BIN / "serve"), "run", str(config_path)]
            serve = subprocess.Popen(command, env=env, cwd=REPO, stdout=sink, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{http_port}"
        deadline = time.monotonic() + start_timeout_s
        while True:
            assert serve.poll() is None, f"serve run ended: {log.read_text()[-3000:]}"
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/health", timeout=5).status_code == 200:
                    break
            assert time.monotonic() < deadline, f"the runtime did not answer within {start_timeout_s} s ({log})"
            time.sleep(1)
        ray.init(address=address, logging_level=logging.ERROR, log_to_driver=False)
        yield ServeCluster(url, address, log)
    finally:
        from ray.serve import context

        # Serve caches the controller it found: a second cluster in this process would be sent to the first's.
        context._disconnect()  # type: ignore[no-untyped-call]
        ray.shutdown()
        if serve is not None and serve.poll() is None:
            serve.send_signal(signal.SIGINT)  # serve run takes its applications down
            try:
                serve.wait(timeout=5)  # `ray stop --force` below ends what is left; a graceful stop took 30 s
            except subprocess.TimeoutExpired:
                serve.kill()
        subprocess.run([str(BIN / "ray"), "stop", "--force"], env=env, capture_output=True, timeout=60)
