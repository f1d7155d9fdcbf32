#!/usr/bin/env python3
"""Start the images `make images` built and check them as a user of docker-compose.yml would meet them.

- docker-compose.yml against the images: each service's image exists, its container ports are the ones the image
  exposes, the container side of each volume exists in the image and its user can write there, profiles as documented.
- The gpu_service image: /health, on a folder shared with the runtime.
- The runtime image: /health, the page at /, one generate through the gpu_service container; the video is written
  by the gpu_service under its own path for the folder and read by the runtime under another (the path mapping),
  then downloaded and decoded.
- The evaluator image: one scenario against that runtime, its report written to a mounted folder.

Containers run with docker when its daemon answers, else with `buildah run` (podman's own `run` needs cgroups that
containers inside containers lack). All on the host's network, on free ports. Writes test-artifacts/image-check.json.
Usage: python scripts/check_images.py [--tag latest]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import av
import httpx
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from common.process.launch import free_port, wait_until_healthy  # noqa: E402
from evaluator.report.schema import RunReport  # noqa: E402

ENGINE = subprocess.run(["sh", str(ROOT / "scripts" / "container_engine.sh")], capture_output=True, text=True)
IMAGE_USER_UID = 1000  # the `avatar` user every image runs as
GPU_OUTPUT_IN_GPU_SERVICE = "/srv/gpu-output"  # not the runtime's /data/gpu-output: the mapping must be used


class CheckFailed(RuntimeError):
    pass


def engine() -> str:
    if ENGINE.returncode != 0:
        raise CheckFailed(ENGINE.stderr.strip())
    return ENGINE.stdout.strip()


def image_config(image: str) -> dict[str, Any]:
    found = subprocess.run([engine(), "image", "inspect", image], capture_output=True, text=True)
    if found.returncode != 0:
        raise CheckFailed(f"no image {image}: build it first (make images)")
    (inspected,) = json.loads(found.stdout)
    config: dict[str, Any] = inspected["Config"]
    return config


class Container:
    """One container of an image, started in the background; its output goes to a log file."""

    def __init__(self, image: str, name: str, env: dict[str, str], volumes: dict[Path, str], log: Path) -> None:
        self.image, self.name, self.env, self.volumes, self.log = image, name, env, volumes, log
        self.process: subprocess.Popen[bytes] | None = None

    def _options(self) -> list[str]:
        options = [item for key, value in self.env.items() for item in ("-e", f"{key}={value}")]
        return options + [item for host, inside in self.volumes.items() for item in ("-v", f"{host}:{inside}")]

    def run(self, args: list[str] | None = None) -> subprocess.Popen[bytes]:
        """Start the image's command (with `args` in place of its CMD)."""
        config = image_config(self.image)
        if engine() == "docker":
            command = ["docker", "run", "--rm", "--name", self.name, "--network", "host", *self._options(), self.image]
            command += args or []
        else:
            subprocess.run(["buildah", "from", "--name", self.name, self.image], check=True, capture_output=True)
            argv = (config.get("Entrypoint") or []) + (args if args is not None else config.get("Cmd") or [])
            command = ["buildah", "run", "--isolation", "chroot", *self._options(), self.name, "--", *argv]
        with self.log.open("ab") as sink:
            self.process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT)
        return self.process

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            if engine() == "docker":
                subprocess.run(["docker", "stop", "-t", "20", self.name], capture_output=True)
            else:
                self.process.terminate()  # buildah run passes the signal to the command
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if engine() != "docker":
            subprocess.run(["buildah", "rm", self.name], capture_output=True)


@contextmanager
def started(container: Container, url: str, timeout_s: float) -> Iterator[str]:
    """The container running and answering GET /health."""
    try:
        try:
            wait_until_healthy(container.run(), url, container.log, timeout_s)
        except (RuntimeError, TimeoutError) as failure:
            raise CheckFailed(f"{container.image}: {failure}") from None
        yield url
    finally:
        container.stop()


def tail(log: Path, lines: int = 30) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) if log.exists() else ""


def shared_folder(parent: Path, name: str) -> Path:
    """A host folder the images' user can write (as the host's own folders for a compose file must be)."""
    folder = parent / name
    folder.mkdir()
    shutil.chown(folder, IMAGE_USER_UID, IMAGE_USER_UID)
    return folder


def interpolated(text: str) -> str:
    """${NAME:-default} and ${NAME} as compose reads them, with this environment ($$ stays: the container's own)."""

    def value(match: re.Match[str]) -> str:
        return os.environ.get(match.group(1)) or match.group(2) or ""

    return re.sub(r"(?<!\$)\$\{(\w+)(?::-([^}]*))?\}", value, text)


def volume_targets(volumes: list[str]) -> tuple[list[str], list[str]]:
    """The container side of a compose file's short volume entries: (named volumes', bind mounts')."""
    named: list[str] = []
    bound: list[str] = []
    for volume in volumes:
        source, target = str(volume).rsplit(":", 1)
        if target in ("ro", "rw"):
            source, target = source.rsplit(":", 1)
        (bound if source.startswith(("/", ".")) else named).append(target)
    return named, bound


def check_compose(tag: str, scratch: Path) -> list[str]:
    """docker-compose.yml's services against the images built. Returns what was checked."""
    compose = yaml.safe_load(interpolated((ROOT / "docker-compose.yml").read_text()))
    checked = []
    for name, service in compose["services"].items():
        image = service.get("image", "")
        if not image.startswith("realtime-avatar-"):
            continue  # coturn's own image: pulled, not built here
        image = image.rsplit(":", 1)[0] + f":{tag}"
        config = image_config(image)
        exposed = {port.split("/")[0] for port in config.get("ExposedPorts") or {}}
        published = {str(port).rsplit(":", 1)[-1] for port in service.get("ports", [])}
        if not published <= exposed:
            raise CheckFailed(f"compose publishes {sorted(published)} of {name}, the image exposes {sorted(exposed)}")
        named, bound = volume_targets(service.get("volumes", []))
        if named:  # a named volume starts as a copy of the image's folder: it must be there, the user's own
            probe = Container(image, f"check-{name}-volumes", {}, {}, scratch / f"{name}-volumes.log")
            process = probe.run(["sh", "-c", " && ".join(f"test -d {target} -a -w {target}" for target in named)])
            code = process.wait(timeout=120)
            probe.stop()
            if code != 0:
                raise CheckFailed(f"{name}: a named volume's folder ({', '.join(named)}) is missing or not writable")
        checked.append(
            f"{name}: ports {sorted(published) or '-'} exposed; named volumes {named or '-'} writable by the image's "
            f"user; bind mounts {bound or '-'} (the host's folders, written by the check's containers below)"
        )
    profiles = {name: service.get("profiles") for name, service in compose["services"].items()}
    expected = {"runtime": None, "gpu-service": ["cpu"], "turn": ["turn"], "evaluator": ["evaluator"]}
    if profiles != expected:
        raise CheckFailed(f"compose profiles {profiles}, documented {expected}")
    checked.append(f"profiles {expected}")
    return checked


def check_running(tag: str, scratch: Path) -> dict[str, Any]:
    gpu_output = shared_folder(scratch, "gpu-output")
    runtime_data = shared_folder(scratch, "runtime-data")
    reports = shared_folder(scratch, "reports")
    gpu_port, runtime_port = free_port(), free_port()
    gpu_url, runtime_url = f"http://127.0.0.1:{gpu_port}", f"http://127.0.0.1:{runtime_port}"
    figures: dict[str, Any] = {}
    gpu = Container(
        f"realtime-avatar-gpu-service:{tag}",
        "check-gpu-service",
        {"GPU_PORT": str(gpu_port), "GPU_OUTPUT_ROOT": GPU_OUTPUT_IN_GPU_SERVICE},
        {gpu_output: GPU_OUTPUT_IN_GPU_SERVICE},
        scratch / "gpu_service.log",
    )
    runtime = Container(
        f"realtime-avatar-runtime:{tag}",
        "check-runtime",
        {
            "RUNTIME_PORT": str(runtime_port),
            "RUNTIME_GPU_SERVICE_URL": gpu_url,
            "RUNTIME_GPU_OUTPUT_HOST_ROOT": GPU_OUTPUT_IN_GPU_SERVICE,
            "RUNTIME_PUBLIC_URL": runtime_url,
        },
        {gpu_output: "/data/gpu-output", runtime_data: "/data/runtime"},
        scratch / "runtime.log",
    )
    with ExitStack() as stack:
        started_at = time.monotonic()
        stack.enter_context(started(gpu, gpu_url, timeout_s=300))
        figures["gpu_service_ready_s"] = round(time.monotonic() - started_at, 1)
        health = httpx.get(f"{gpu_url}/health", timeout=10).json()
        figures["gpu_service_device"] = health.get("device")
        started_at = time.monotonic()
        stack.enter_context(started(runtime, runtime_url, timeout_s=120))
        figures["runtime_ready_s"] = round(time.monotonic() - started_at, 1)
        page = httpx.get(f"{runtime_url}/", timeout=10)
        if page.status_code != 200 or "<html" not in page.text.lower():
            raise CheckFailed(f"the page at / answered {page.status_code}")
        figures["page_bytes"] = len(page.content)
        started_at = time.monotonic()
        answer = httpx.post(
            f"{runtime_url}/api/v1/generate",
            json={"text": "Hello from the images. Everything here was built from Debian and PyPI.", "language": "en"},
            timeout=300,
        )
        if answer.status_code != 200:
            raise CheckFailed(f"generate answered {answer.status_code}: {answer.text}\n{tail(runtime.log)}")
        result = answer.json()
        figures["generate_s"] = round(time.monotonic() - started_at, 1)
        if result["fallback"]:
            raise CheckFailed("the runtime made the video itself: the gpu_service container was not used")
        if not any(gpu_output.rglob("*.mp4")):
            raise CheckFailed(f"no video in the shared folder {gpu_output}")
        video = httpx.get(result["video_url"], timeout=60)
        if video.status_code != 200:
            raise CheckFailed(f"the video at {result['video_url']} answered {video.status_code}")
        download = scratch / "clip.mp4"
        download.write_bytes(video.content)
        with av.open(str(download)) as container:
            kinds = {stream.type for stream in container.streams}
            frames = sum(1 for _ in container.decode(video=0))
        figures["video"] = {"duration_s": result["duration_s"], "frames": frames, "streams": sorted(kinds)}
        if kinds != {"audio", "video"} or frames < 25 * result["duration_s"] * 0.9 or result["duration_s"] < 2:
            raise CheckFailed(f"the video is not whole: {figures['video']}")
        evaluator = Container(
            f"realtime-avatar-evaluator:{tag}",
            "check-evaluator",
            {"EVAL_RUNTIME_URL": runtime_url},
            {reports: "/app/evaluator/outputs"},
            scratch / "evaluator.log",
        )
        started_at = time.monotonic()
        process = evaluator.run(["--suite", "phase1", "--only", "en-short", "--no-progress"])
        code = process.wait(timeout=900)
        evaluator.stop()
        figures["evaluator_s"] = round(time.monotonic() - started_at, 1)
        written = sorted(reports.rglob("report.json"))
        if code not in (0, 1) or not written:  # 1: a threshold missed, the report written; 2: it could not run
            raise CheckFailed(f"the evaluator exited with {code}, reports {written}:\n{tail(evaluator.log)}")
        (clip,) = (
            clip
            for scenario in RunReport.model_validate_json(written[0].read_text()).scenarios
            for clip in scenario.clips
        )
        figures["evaluator_checks"] = {check.name: [check.value, check.limit, check.passed] for check in clip.checks}
        # Speed depends on the machine (a container's first request, two shared cores); the rest must hold.
        missed = [check.name for check in clip.checks if not check.passed and not check.name.startswith("latency.")]
        if clip.error or missed or clip.heard is None or clip.lipsync is None:
            raise CheckFailed(f"the evaluator's scenario: error {clip.error}, failed {missed}")
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tag", default="latest")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="image-check-") as temporary:
        scratch = Path(temporary)
        try:
            checked = check_compose(args.tag, scratch)
            for line in checked:
                print(f"ok  compose: {line}")
            figures = check_running(args.tag, scratch)
        except CheckFailed as failure:
            print(f"FAILED: {failure}", file=sys.stderr)
            return 1
    print(json.dumps(figures, indent=2))
    out = ROOT / "test-artifacts" / "image-check.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"engine": engine(), "compose": checked, **figures}, indent=2) + "\n")
    print(f"all images checked with {engine()}: {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
