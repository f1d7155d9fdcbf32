"""The deployment files as data: compose, Dockerfiles and .env.example agree with the code's settings."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from pydantic import BaseModel
from pydantic_settings import BaseSettings

from evaluator.config import EvalSettings
from gpu_service.config import Settings as GpuSettings
from runtime.config import Settings as RuntimeSettings

REPO = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text())


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
    assert environment["RUNTIME_GPU_SERVICE_URL"].startswith("http://host.docker.internal:")
    assert environment["RUNTIME_GPU_SERVICE_URL"].endswith(f":{GpuSettings.model_fields['port'].default}")
    assert "host.docker.internal:host-gateway" in runtime["extra_hosts"]


def test_evaluator_is_behind_its_profile() -> None:
    evaluator = COMPOSE["services"]["evaluator"]
    assert evaluator["profiles"] == ["evaluator"]
    assert evaluator["environment"]["EVAL_RUNTIME_URL"] == "http://runtime:8000"
    assert set(evaluator["environment"]) <= env_names(EvalSettings)
    dockerfile = (REPO / "evaluator" / "Dockerfile").read_text()
    assert set(re.findall(r"\b(EVAL_[A-Z_]+)=", dockerfile)) <= env_names(EvalSettings)
    outputs = re.search(r"EVAL_OUTPUTS_DIR=(\S+)", dockerfile)
    assert outputs is not None
    assert any(volume.endswith(f":{outputs.group(1)}") for volume in evaluator["volumes"]), "reports must leave the box"


def test_each_dockerfile_installs_only_its_own_extra() -> None:
    for service, extra in (("runtime", "runtime"), ("evaluator", "evaluator")):
        build = COMPOSE["services"][service]["build"]
        dockerfile = (REPO / build["context"] / build["dockerfile"]).read_text()
        assert re.findall(r'pip install "\.\[([a-z,]+)\]"', dockerfile) == [extra]
        assert dockerfile.startswith("#") and "FROM python:3.11-slim" in dockerfile


def test_runtime_image_defaults_are_real_settings() -> None:
    dockerfile = (REPO / "runtime" / "Dockerfile").read_text()
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
