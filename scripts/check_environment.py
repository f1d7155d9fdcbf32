"""Check that this machine can run the services: Python, packages, espeak-ng, device, output folder, ports,
the optional engines (XTTS-v2, LivePortrait) and the evaluator's Whisper model.

Usage: python scripts/check_environment.py [--service gpu|runtime|evaluator|all]
Exit code 1 when something required is missing; each line says what to do about it.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import os
import socket
import sys
import tempfile
from pathlib import Path

REQUIRED = {
    "gpu": ["fastapi", "uvicorn", "numpy", "soundfile", "soxr", "pyworld", "espeakng-loader", "av", "pyloudnorm"],
    "runtime": ["fastapi", "uvicorn", "httpx", "numpy", "soundfile", "av"],
    "evaluator": ["httpx", "faster-whisper", "resemblyzer", "praat-parselmouth", "jiwer", "opencc", "matplotlib"],
}
OPTIONAL = {"gpu": ["torch", "coqui-tts"], "runtime": [], "evaluator": []}


def line(ok: bool | None, what: str, detail: str) -> bool:
    mark = {True: "ok  ", False: "FAIL", None: "note"}[ok]
    print(f"[{mark}] {what}: {detail}")
    return ok is not False


def check_python() -> bool:
    version = sys.version_info
    return line(version[:2] == (3, 11), "python", f"{sys.version.split()[0]} (3.11 required)")


def check_packages(service: str) -> bool:
    ok = True
    for name in REQUIRED[service]:
        try:
            ok &= line(True, f"package {name}", importlib.metadata.version(name))
        except importlib.metadata.PackageNotFoundError:
            ok &= line(False, f"package {name}", f"missing: pip install -e '.[{service}]'")
    for name in OPTIONAL[service]:
        try:
            line(None, f"optional {name}", importlib.metadata.version(name))
        except importlib.metadata.PackageNotFoundError:
            line(None, f"optional {name}", "not installed (only needed for the XTTS/LivePortrait backends)")
    return ok


def check_espeak() -> bool:
    try:
        from gpu_service.engines.tts.espeak_lib import EspeakLibrary

        library = EspeakLibrary.shared()
        return line(True, "espeak-ng", f"{library.version}, {library.sample_rate} Hz")
    except Exception as exc:  # any failure here is the finding to report
        return line(False, "espeak-ng", f"{type(exc).__name__}: {exc}")


def check_kokoro() -> bool:
    """The embedded neural voice's packages (the model is joined and checked against its hash when it loads)."""
    from gpu_service.engines.tts.kokoro_model import missing_packages

    reason = missing_packages()
    return line(reason is None, "kokoro", reason or "Kokoro-82M packages present")


def check_device() -> bool:
    from gpu_service.device import pick_device

    choice = pick_device(os.environ.get("GPU_DEVICE", "auto"))
    return line(None, "device", f"{choice.name} ({choice.reason})")


def check_writable(folder: Path, what: str) -> bool:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder):
            pass
        return line(True, what, f"{folder} is writable")
    except OSError as exc:
        return line(False, what, f"{folder} is not writable ({exc.strerror}); set another folder")


def check_port(port: int, what: str) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return line(None, what, f"port {port} is in use (a running service, or change the port setting)")
    return line(True, what, f"port {port} is free")


def check_optional_engines() -> bool:
    """XTTS-v2 and LivePortrait are optional: their absence is reported, never a failure."""
    from gpu_service.config import Settings
    from gpu_service.engines.avatar.liveportrait import unavailable_reason as liveportrait_reason
    from gpu_service.engines.tts.xtts import unavailable_reason as xtts_reason

    settings = Settings()
    for name, reason in (
        ("xtts", xtts_reason(settings.xtts)),
        ("liveportrait", liveportrait_reason(settings.liveportrait)),
    ):
        line(None if reason else True, f"engine {name}", reason or "ready to load")
    return True


def check_whisper_model() -> bool:
    from evaluator.config import EvalSettings
    from evaluator.metrics.intelligibility import WhisperModelMissing, check_model_dir

    folder = EvalSettings().whisper_model_dir
    try:
        check_model_dir(folder)
    except WhisperModelMissing as error:
        return line(False, "Whisper model", str(error))
    return line(True, "Whisper model", str(folder))


def main() -> int:
    parser = argparse.ArgumentParser(description="Check this machine for the Realtime Avatar services.")
    parser.add_argument("--service", choices=["gpu", "runtime", "evaluator", "all"], default="all")
    args = parser.parse_args()
    services = ["gpu", "runtime", "evaluator"] if args.service == "all" else [args.service]
    ok = check_python()
    for service in services:
        print(f"-- {service}")
        ok &= check_packages(service)
        if service == "gpu" and importlib.util.find_spec("espeakng_loader"):
            ok &= check_espeak() & check_kokoro() & check_device()
            ok &= check_writable(Path(os.environ.get("GPU_OUTPUT_ROOT", "/tmp/gpu-service-output")), "output root")
            ok &= check_port(int(os.environ.get("GPU_PORT", "8001")), "gpu_service port")
            ok &= check_optional_engines()
        if service == "runtime":
            ok &= check_port(int(os.environ.get("RUNTIME_PORT", "8000")), "runtime port")
        if service == "evaluator" and importlib.util.find_spec("faster_whisper"):
            ok &= check_whisper_model()
    print("all required checks passed" if ok else "some required checks failed (see FAIL lines)")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
