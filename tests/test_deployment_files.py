"""The deployment files as data: compose, Dockerfiles and .env.example agree with the code's settings."""

from __future__ import annotations

import importlib
import os
import re
import shutil
import socket
import subprocess
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel
from pydantic_settings import BaseSettings
from ray.serve import Application
from ray.serve._private.constants import SERVE_SESSION_ID
from ray.serve._private.request_router.request_router import RequestRouter

from common.process.launch import free_port
from evaluator.config import EvalSettings
from gpu_service.config import Settings as GpuSettings
from runtime.config import Settings as RuntimeSettings
from runtime.turn import turn_credential
from tests.live_client import run_session
from tests.turn_server import allocate

REPO = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text())
DOCKERFILE = (REPO / "Dockerfile").read_text()


STAGES = {
    name: (parent, body)
    for parent, name, body in re.findall(r"^FROM (\S+) AS (\S+)\n(.*?)(?=^FROM |\Z)", DOCKERFILE, re.M | re.S)
}


def stage(name: str) -> str:
    """A build target's instructions, with those of the stages it is built on."""
    parent, body = STAGES[name]
    return (stage(parent) if parent in STAGES else "") + str(body)


def env_names(settings: type[BaseSettings]) -> set[str]:
    """Every variable a settings class reads; nested models (an engine's settings) as PREFIX_MODEL__FIELD."""
    prefix = str(settings.model_config.get("env_prefix", ""))
    delimiter = settings.model_config.get("env_nested_delimiter") or ""
    names = set()
    for name, field in settings.model_fields.items():
        nested = field.annotation
        if delimiter and isinstance(nested, type) and issubclass(nested, BaseModel):
            names |= {f"{prefix}{name}{delimiter}{inner}".upper() for inner in nested.model_fields}
        else:
            names.add(f"{prefix}{name}".upper())
    return names


def test_runtime_service_ports_volume_and_environment() -> None:
    runtime = COMPOSE["services"]["runtime"]
    assert "8000:8000" in runtime["ports"]
    environment = runtime["environment"]
    assert set(environment) <= env_names(RuntimeSettings), set(environment) - env_names(RuntimeSettings)
    mounts = dict(volume.rsplit(":", 1) for volume in runtime["volumes"])
    host_side = {source for source, target in mounts.items() if target == environment["RUNTIME_GPU_OUTPUT_LOCAL_ROOT"]}
    assert host_side == {environment["RUNTIME_GPU_OUTPUT_HOST_ROOT"]}, "the shared volume must join the two roots"
    # The native gpu_service on the host by default; GPU_SERVICE_URL names the CPU image's service instead.
    default_url = re.fullmatch(r"\$\{GPU_SERVICE_URL:-(\S+)\}", environment["RUNTIME_GPU_SERVICE_URL"])
    assert default_url is not None and default_url.group(1).startswith("http://host.docker.internal:")
    assert default_url.group(1).endswith(f":{GpuSettings.model_fields['port'].default}")
    assert "host.docker.internal:host-gateway" in runtime["extra_hosts"]


def test_evaluator_is_behind_its_profile() -> None:
    evaluator = COMPOSE["services"]["evaluator"]
    assert evaluator["profiles"] == ["evaluator"]
    assert evaluator["environment"]["EVAL_RUNTIME_URL"] == "http://runtime:8000"
    assert set(evaluator["environment"]) <= env_names(EvalSettings)
    dockerfile = stage("evaluator")
    assert set(re.findall(r"\b(EVAL_[A-Z_]+)=", dockerfile)) <= env_names(EvalSettings)
    outputs = re.search(r"EVAL_OUTPUTS_DIR=(\S+)", dockerfile)
    assert outputs is not None
    assert any(volume.endswith(f":{outputs.group(1)}") for volume in evaluator["volumes"]), "reports must leave the box"


def test_each_image_installs_only_its_own_extra_on_a_base_given_as_an_argument() -> None:
    assert (
        DOCKERFILE.startswith("#") and "ARG BASE_IMAGE=python:3.11-slim\n\nFROM ${BASE_IMAGE} AS python\n" in DOCKERFILE
    )
    for service, extra in (("runtime", "runtime"), ("gpu-service", "gpu,llm"), ("evaluator", "evaluator")):
        build = COMPOSE["services"][service]["build"]
        assert build == {"context": ".", "target": service.replace("-", "_")}
        dockerfile = stage(build["target"])
        assert re.findall(r'pip install "\.\[([a-z,]+)\]"', dockerfile) == [extra]
        # Every pip of the build may be given a CA bundle (secret) and local wheels, through one helper.
        for command in re.findall(r"^RUN (?:[^\n]*\\\n)*[^\n]*", dockerfile, re.MULTILINE):
            if "pip" in command or "fetch_" in command:
                assert "--mount=type=secret,id=ca_bundle" in command and "target=/wheels" in command, command
                assert all(
                    "build_env" in line for line in command.splitlines()[1:] if "pip" in line or "fetch_" in line
                )


def test_the_cpu_gpu_service_shares_the_output_folder_by_the_hosts_path() -> None:
    gpu, runtime = COMPOSE["services"]["gpu-service"], COMPOSE["services"]["runtime"]
    assert gpu["profiles"] == ["cpu"] and gpu["image"] == "realtime-avatar-gpu-service:latest"
    assert set(gpu["environment"]) <= env_names(GpuSettings)
    port = GpuSettings.model_fields["port"].default
    assert gpu["ports"] == [f"{port}:{port}"]
    # It names its files as a native gpu_service would: the runtime's one mapping serves both.
    root = gpu["environment"]["GPU_OUTPUT_ROOT"]
    assert root == runtime["environment"]["RUNTIME_GPU_OUTPUT_HOST_ROOT"]
    assert gpu["volumes"] == [f"{root}:{root}"]
    dockerfile = stage("gpu_service")
    assert set(re.findall(r"\b(GPU_[A-Z_]+)=", dockerfile)) <= env_names(GpuSettings)
    assert f"EXPOSE {port}" in dockerfile


def test_runtime_image_defaults_are_real_settings() -> None:
    dockerfile = stage("runtime")
    names = set(re.findall(r"\b(RUNTIME_[A-Z_]+)=", dockerfile))
    assert names and names <= env_names(RuntimeSettings)
    # The page's default folder is web/ beside the runtime package: the image must hold it there.
    assert "COPY runtime ./runtime" in dockerfile and "COPY web ./web" in dockerfile
    assert RuntimeSettings().web_dir == REPO / "web" and (REPO / "web" / "index.html").is_file()


def test_env_example_documents_every_setting() -> None:
    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", (REPO / ".env.example").read_text(), re.MULTILINE))
    for settings in (GpuSettings, RuntimeSettings, EvalSettings):
        missing = env_names(settings) - documented
        assert not missing, f"undocumented in .env.example: {sorted(missing)}"


SERVE = yaml.safe_load((REPO / "deploy" / "ray" / "serve.yaml").read_text())
RAY_SERVICE = yaml.safe_load((REPO / "deploy" / "ray" / "rayservice.yaml").read_text())


def _apps(config: dict[str, object]) -> dict[str, dict[str, Any]]:
    return {app["name"]: app for app in config["applications"]}  # type: ignore[attr-defined]


def test_serve_config_scales_the_gpu_service_to_zero_and_keeps_one_runtime() -> None:
    for config in (SERVE, yaml.safe_load(RAY_SERVICE["spec"]["serveConfigV2"])):
        apps = _apps(config)
        gpu, runtime = apps["gpu_service"]["deployments"][0], apps["runtime"]["deployments"][0]
        assert gpu["autoscaling_config"]["min_replicas"] == 0 < gpu["autoscaling_config"]["max_replicas"]
        assert runtime["num_replicas"] == 1, "the runtime's state (SQLite, files) lives with one replica"
        gpu_env, runtime_env = (apps[name]["runtime_env"]["env_vars"] for name in ("gpu_service", "runtime"))
        assert set(gpu_env) <= env_names(GpuSettings) and set(runtime_env) <= env_names(RuntimeSettings)
        prefix = apps["gpu_service"]["route_prefix"]
        assert runtime_env["RUNTIME_GPU_SERVICE_URL"] == f"http://127.0.0.1:{config['http_options']['port']}{prefix}"
        assert runtime_env["RUNTIME_GPU_AFFINITY_HEADER"] == SERVE_SESSION_ID  # what the router pins
        assert runtime_env["RUNTIME_GPU_ON_DEMAND"] == "true" and runtime_env["RUNTIME_FALLBACK"] == "off"
        module, name = gpu["request_router_config"]["request_router_class"].split(":")
        assert issubclass(getattr(importlib.import_module(module), name), RequestRouter)
        for app in apps.values():
            module, name = app["import_path"].split(":")
            assert isinstance(getattr(importlib.import_module(module), name), Application)


def test_ray_service_asks_a_gpu_per_replica_and_scales_gpu_nodes_to_zero() -> None:
    serve = _apps(yaml.safe_load(RAY_SERVICE["spec"]["serveConfigV2"]))
    local = _apps(SERVE)
    for name, app in serve.items():  # the same applications as deploy/ray/serve.yaml, placed on a GPU cluster
        assert {key: app[key] for key in ("route_prefix", "import_path")} == {
            key: local[name][key] for key in ("route_prefix", "import_path")
        }
    assert serve["gpu_service"]["deployments"][0]["ray_actor_options"]["num_gpus"] == 1
    cluster = RAY_SERVICE["spec"]["rayClusterConfig"]
    assert cluster["rayVersion"] == version("ray") and cluster["enableInTreeAutoscaling"]
    (workers,) = cluster["workerGroupSpecs"]
    assert workers["minReplicas"] == 0 and workers["rayStartParams"]["num-gpus"] == "1"
    (container,) = workers["template"]["spec"]["containers"]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"
    dockerfile = (REPO / "deploy" / "ray" / "Dockerfile").read_text()
    assert f"FROM rayproject/ray:{version('ray')}-py311-gpu" in dockerfile and "COPY --chown=ray deploy" in dockerfile


def test_the_turn_service_shares_its_secret_with_the_runtime() -> None:
    turn, runtime = COMPOSE["services"]["turn"], COMPOSE["services"]["runtime"]
    assert turn["profiles"] == ["turn"] and turn["network_mode"] == "host"
    assert turn["environment"]["TURN_SECRET"] == runtime["environment"]["RUNTIME_TURN_SECRET"] == "${TURN_SECRET:-}"


def test_the_turn_services_command_runs_coturn_as_the_relay_tests_do(tmp_path: Path) -> None:
    """The service's own command (as compose would run it, `$$` unescaped) with Debian's turnserver: it refuses to
    start without a secret, and with one it accepts the credentials the runtime makes."""
    if shutil.which("turnserver") is None:
        pytest.skip("no turnserver (make test installs Debian's coturn)")
    script = COMPOSE["services"]["turn"]["command"][0].replace("$$", "$")
    port = free_port()
    env = {"PATH": os.environ["PATH"], "TURN_PORT": str(port), "TURN_MIN_PORT": "49900", "TURN_MAX_PORT": "49950"}
    refused = subprocess.run(["sh", "-c", script], env={**env, "TURN_SECRET": ""}, capture_output=True, text=True)
    assert refused.returncode == 1 and "set TURN_SECRET" in refused.stderr
    extra = f" --listening-ip=127.0.0.1 --relay-ip=127.0.0.1 --pidfile={tmp_path / 'pid'} --userdb={tmp_path / 'db'}"
    process = subprocess.Popen(["sh", "-c", script + extra], env={**env, "TURN_SECRET": "s3cret", "TURN_REALM": "t"})
    try:
        deadline = time.monotonic() + 10
        while socket.socket().connect_ex(("127.0.0.1", port)) != 0:
            assert process.poll() is None and time.monotonic() < deadline, "the turn service did not start"
            time.sleep(0.05)
        username, password = turn_credential("s3cret", "guest", int(time.time()) + 60)
        run_session(allocate(port, username, password))
    finally:
        process.terminate()
        process.wait(10)
